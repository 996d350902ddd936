import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { ApiBearerAuth } from '@nestjs/swagger';
import { DomainError } from '../common/domain-error';
import { ApiErrors } from '../openapi/api-errors';
import { AuthUser, isStaff } from './auth-user';

@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  override handleRequest<T>(error: unknown, user: T): T {
    // one answer for every bad token: nothing that tells an attacker what was wrong
    if (error || !user) throw new DomainError('UNAUTHENTICATED', 'Authentication is required');
    return user;
  }
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
