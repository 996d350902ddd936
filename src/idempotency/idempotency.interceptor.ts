import { createHash } from 'node:crypto';
import {
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user';
import { DomainError } from '../common/domain-error';
import { IdempotencyService } from './idempotency.service';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface IdempotentRequest extends FastifyRequest {
  user?: AuthUser;
  idempotencyScope?: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

// On every controller that has write routes (@Idempotent(), below), not globally: a global
// interceptor puts Nest's interceptor machinery (rxjs, async resources) on every read too, for
// nothing. test/idempotency/every-write-replays.e2e-spec.ts sends each write route of the OpenAPI
// document twice, so a write route without it fails there.
// The contract's idempotency: the key is scoped to the caller, the method and the route; the
// first finished answer is replayed; a key reused with another body is 422; 5xx answers are not
// stored. While its request runs, the key has a short lease that the request renews; a 409
// IDEMPOTENCY_KEY_IN_USE means that request is alive. Once the lease has run out (the request
// died with its process) the key is never "in use" again: a retry gets the outcome of the saga
// the request started (503 with Retry-After until recovery has finished it), or runs again when
// nothing was started or what was started failed and holds nothing.
// Concurrent requests of this instance share the statements that claim, renew and answer their
// keys (idempotency.batcher.ts); each request's row, and what the database says of it, stays its
// own, so a crash leaves the same rows behind as before.
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly idempotency: IdempotencyService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<IdempotentRequest>();
    const response = context.switchToHttp().getResponse<FastifyReply>();
    const key = request.headers[IDEMPOTENCY_HEADER];
    if (key === undefined || !['POST', 'PATCH', 'PUT', 'DELETE'].includes(request.method))
      return next.handle();
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        'Idempotency-Key must be 1 to 255 visible ASCII characters',
      );
    }
    const caller = request.user?.sub ?? `ip:${request.ip}`;
    const scope = sha256(JSON.stringify([caller, request.method, pathOf(request.url), key]));
    const requestHash = sha256(
      JSON.stringify([canonical(request.body ?? null), canonical(request.query ?? {})]),
    );
    return from(this.idempotency.run(scope, requestHash, request, response, next));
  }
}

/** On a controller with write routes: each of its POST, PUT, PATCH and DELETE honours the key. */
export function Idempotent(): ClassDecorator {
  return UseInterceptors(IdempotencyInterceptor);
}

/** How the header is described on every write operation of the OpenAPI document. */
export const IDEMPOTENCY_HEADER_DOC =
  'Optional. Same key and body: the first answer is replayed (Idempotent-Replayed: true). ' +
  'Still running: 409 IDEMPOTENCY_KEY_IN_USE with Retry-After. Other body: 422 IDEMPOTENCY_KEY_REUSED. Kept 48 hours.';

/** The path as the client sent it, without the query (which the request hash covers). */
function pathOf(url: string): string {
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}
