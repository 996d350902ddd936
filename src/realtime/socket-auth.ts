import { verificationKey } from '../auth/verification-key';
import { verify } from 'jsonwebtoken';
import type { AuthUser } from '../auth/auth-user';
import { userFromClaims } from '../auth/jwt.strategy';
import type { AppConfig } from '../config/app-config';

export interface SocketUser extends AuthUser {
  /** seconds since the epoch */
  exp: number;
}

/** The same checks as the HTTP JwtStrategy: pinned algorithm, signature, exp, nbf, iss/aud when configured. */
export function verifySocketToken(token: unknown, config: AppConfig): SocketUser | undefined {
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192) return undefined;
  let claims: unknown;
  try {
    claims = verify(token, verificationKey(config.jwt), {
      algorithms: [config.jwt.algorithm],
      ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
      ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
    });
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null) return undefined;
  const user = userFromClaims(claims);
  if (!user) return undefined;
  return { ...user, exp: (claims as { exp: number }).exp };
}
