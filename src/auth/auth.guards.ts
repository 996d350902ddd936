import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
  UseGuards,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth } from '@nestjs/swagger';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ApiErrors } from '../openapi/api-errors';
import { AuthUser, isStaff } from './auth-user';
import { bearerUser } from './bearer-token';

@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<WithUser>();
    const user = bearerUser(request, this.config);
    // one answer for every bad token: nothing that tells an attacker what was wrong
    if (!user) throw new DomainError('UNAUTHENTICATED', 'Authentication is required');
    request.user = { sub: user.sub, roles: user.roles };
    return true;
  }
}

interface WithUser {
  headers: Record<string, string | string[] | undefined>;
  user?: AuthUser;
}

const STAFF_ONLY = 'staffOnly';

@Injectable()
export class StaffGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const staffOnly = this.reflector.getAllAndOverride<boolean>(STAFF_ONLY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!staffOnly) return true;
    const user = context.switchToHttp().getRequest<{ user?: AuthUser }>().user;
    if (user && isStaff(user)) return true;
    throw new DomainError('FORBIDDEN', 'This route is for staff');
  }
}

/** Any signed-in caller. */
export function Authenticated(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseGuards(JwtAuthGuard),
    ApiBearerAuth(),
    ApiErrors({ UNAUTHENTICATED: 'missing, expired or invalid token' }),
  );
}

/** Role `staff` or `admin`. */
export function StaffOnly(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(STAFF_ONLY, true),
    UseGuards(JwtAuthGuard, StaffGuard),
    ApiBearerAuth(),
    ApiErrors(
      { UNAUTHENTICATED: 'missing, expired or invalid token' },
      { FORBIDDEN: 'needs role staff or admin' },
    ),
  );
}

export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  return context.switchToHttp().getRequest<{ user: AuthUser }>().user;
});
