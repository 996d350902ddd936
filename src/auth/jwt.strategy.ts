import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { AuthUser, Role } from './auth-user';
import { verificationKey } from './verification-key';

const KNOWN_ROLES: readonly Role[] = ['participant', 'staff', 'admin'];

interface JwtClaims {
  sub?: unknown;
  exp?: unknown;
  roles?: unknown;
}

// Verifies signature, exp, nbf and (when configured) iss/aud; the algorithm is pinned to the
// configured one, so `none` and HS256-signed-with-the-public-key tokens are refused.
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // a KeyObject built once (passport-jwt hands it to jsonwebtoken, which accepts one)
      secretOrKey: verificationKey(config.jwt) as unknown as string,
      algorithms: [config.jwt.algorithm],
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ignoreExpiration: false,
    });
  }

  validate(claims: JwtClaims): AuthUser | false {
    return userFromClaims(claims);
  }
}

export function userFromClaims(claims: JwtClaims): AuthUser | false {
  if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 191) {
    return false;
  }
  if (typeof claims.exp !== 'number') return false;
  const roles = Array.isArray(claims.roles)
    ? claims.roles.filter((r): r is Role => KNOWN_ROLES.includes(r as Role))
    : [];
  return { sub: claims.sub, roles: roles.length > 0 ? roles : ['participant'] };
}
