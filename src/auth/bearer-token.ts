import { verify } from 'jsonwebtoken';
import type { AppConfig } from '../config/app-config';
import { AuthUser, Role } from './auth-user';
import { verificationKey } from './verification-key';

const KNOWN_ROLES: readonly Role[] = ['participant', 'staff', 'admin'];
const MAX_TOKEN_LENGTH = 8192;

interface JwtClaims {
  sub?: unknown;
  exp?: unknown;
  roles?: unknown;
}

export interface VerifiedUser extends AuthUser {
  /** seconds since the epoch */
  exp: number;
}

// Verifies signature, exp, nbf and (when configured) iss/aud; the algorithm is pinned to the
// configured one, so `none` and HS256-signed-with-the-public-key tokens are refused. Used by the
// HTTP guards and the socket handshake alike.
export function verifyToken(token: unknown, config: AppConfig): VerifiedUser | undefined {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH)
    return undefined;
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
  return userFromClaims(claims);
}

function userFromClaims(claims: JwtClaims): VerifiedUser | undefined {
  if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 191) {
    return undefined;
  }
  if (typeof claims.exp !== 'number') return undefined;
  const roles = Array.isArray(claims.roles)
    ? claims.roles.filter((r): r is Role => KNOWN_ROLES.includes(r as Role))
    : [];
  return { sub: claims.sub, roles: roles.length > 0 ? roles : ['participant'], exp: claims.exp };
}

interface WithHeaders {
  headers: Record<string, string | string[] | undefined>;
}

// A request's outcome, so the global rate-limit guard and the route's auth guard (both of which
// need the caller) verify the signature once between them.
const verified = new WeakMap<object, VerifiedUser | null>();

/** The caller of an HTTP request from `Authorization: Bearer <jwt>`; undefined when absent or bad. */
export function bearerUser(request: WithHeaders, config: AppConfig): VerifiedUser | undefined {
  const known = verified.get(request);
  if (known !== undefined) return known ?? undefined;
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^bearer\s+(\S+)\s*$/i.exec(header) : null;
  const user = match ? verifyToken(match[1], config) : undefined;
  verified.set(request, user ?? null);
  return user;
}
