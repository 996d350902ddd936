import { sign } from 'jsonwebtoken';
import type { AppConfig } from '../config/app-config';
import type { Role } from './auth-user';

// Development tokens, signed with the configured HS256 secret (the identity provider issues
// the real ones). RS256 deployments cannot mint: the service holds only the public key.
export function mintDevToken(
  config: AppConfig,
  sub: string,
  roles: Role[] = ['participant'],
  expiresInSeconds = 12 * 3600,
): string {
  if (config.jwt.algorithm !== 'HS256') {
    throw new Error('Tokens can be minted only with JWT_SECRET (HS256)');
  }
  return sign({ sub, roles }, config.jwt.key, {
    algorithm: 'HS256',
    expiresIn: expiresInSeconds,
    ...(config.jwt.issuer ? { issuer: config.jwt.issuer } : {}),
    ...(config.jwt.audience ? { audience: config.jwt.audience } : {}),
  });
}
