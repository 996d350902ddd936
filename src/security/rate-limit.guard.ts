import { bearerUser } from '../auth/bearer-token';
import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  ThrottlerModuleOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app-config';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// probes and scrapers must keep working when a client is being limited
const UNLIMITED_PATHS = /^\/(health|metrics|docs)(\/|-json|$)/;
export const RATE_WINDOW_MS = 60_000;

/** Whether requests to this path count against a rate limit (and so can get 429 RATE_LIMITED). */
export function isRateLimitedPath(path: string): boolean {
  return !UNLIMITED_PATHS.test(path);
}

function pathOf(url: string): string {
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}

export function isWrite(method: string): boolean {
  return WRITE_METHODS.has(method.toUpperCase());
}

// Writes are counted per account (the verified token's sub), reads per account too when signed
// in, and per client address otherwise. One bucket per account covers every route, so a client
// cannot spread a flood over routes. A request whose token does not verify counts against its
// address: forging tokens buys nothing. Global guards run before the routes' auth guards; the
// verified caller is remembered per request (bearerUser), so the signature is checked once.
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(options, storage, reflector);
  }

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return Promise.resolve(true);
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return Promise.resolve(!isRateLimitedPath(pathOf(request.url)));
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const sub = this.verifiedSub(request as unknown as FastifyRequest);
    return sub === undefined ? `address:${await super.getTracker(request)}` : `account:${sub}`;
  }

  protected override generateKey(context: ExecutionContext, tracker: string, name: string): string {
    const method = context.switchToHttp().getRequest<FastifyRequest>().method;
    return `ft:rl:${name}:${isWrite(method) ? 'write' : 'read'}:${tracker}`;
  }

  protected override throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw new DomainError('RATE_LIMITED', 'Too many requests; try again shortly', {
      retryAfterSeconds: Math.max(1, detail.timeToBlockExpire),
    });
  }

  private verifiedSub(request: FastifyRequest): string | undefined {
    return bearerUser(request, this.config)?.sub;
  }
}

export function rateLimitOptions(config: AppConfig): ThrottlerModuleOptions {
  return {
    throttlers: [
      {
        name: 'default',
        ttl: RATE_WINDOW_MS,
        limit: (context: ExecutionContext) =>
          isWrite(context.switchToHttp().getRequest<FastifyRequest>().method)
            ? config.rateLimit.writesPerMinute
            : config.rateLimit.readsPerMinute,
      },
    ],
  };
}
