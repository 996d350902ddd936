import { createHash } from 'node:crypto';
import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user';
import { DomainError, httpStatusOf } from '../common/domain-error';
import { Failpoints } from '../common/failpoints';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { IdempotencyBatcher } from './idempotency.batcher';
import { IdempotencyRepository } from './idempotency.repository';
import { SAGA_OUTCOME_RESOLVER, SagaOutcomeResolver } from './saga-outcome.port';

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

// Bound globally (IdempotencyModule, APP_INTERCEPTOR), so no write route can forget it.
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
  private readonly recoverySeconds: number;

  constructor(
    private readonly keys: IdempotencyRepository,
    private readonly batched: IdempotencyBatcher,
    @Inject(SAGA_OUTCOME_RESOLVER) private readonly outcomes: SagaOutcomeResolver,
    private readonly metrics: MetricsService,
    private readonly failpoints: Failpoints,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.recoverySeconds = Math.max(1, Math.ceil(config.recoveryIntervalMs / 1000));
  }

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
    return from(this.run(scope, requestHash, request, response, next));
  }

  private async run(
    scope: string,
    requestHash: string,
    request: IdempotentRequest,
    response: FastifyReply,
    next: CallHandler,
  ): Promise<unknown> {
    const replay = await this.claimOrReplay(scope, requestHash);
    if (replay) {
      this.metrics.idempotentReplay();
      void response.status(replay.status).header('Idempotent-Replayed', 'true');
      return replay.body;
    }
    request.idempotencyScope = scope;
    // the lease says this request is alive; renewed well before it runs out
    const letGo = this.batched.hold(scope);
    try {
      this.failpoints.hit('idempotency.after-claim');
      const body: unknown = await lastValueFrom(next.handle(), { defaultValue: undefined });
      await this.batched.complete(scope, response.statusCode, JSON.stringify(body ?? null));
      return body;
    } catch (error) {
      if (error instanceof DomainError && httpStatusOf(error.code) < 500) {
        const status = httpStatusOf(error.code);
        await this.batched.complete(scope, status, JSON.stringify(errorJson(error)));
      } else {
        await this.keys.release(scope).catch(() => undefined);
      }
      throw error;
    } finally {
      letGo();
    }
  }

  private async claimOrReplay(
    scope: string,
    requestHash: string,
  ): Promise<{ status: number; body: unknown } | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.batched.claim(scope, requestHash)) return undefined;
      const stored = await this.keys.find(scope);
      if (!stored) continue;
      if (stored.expired) {
        await this.keys.removeExpired(scope);
        continue;
      }
      if (stored.requestHash !== requestHash) {
        throw new DomainError(
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was used with a different request',
        );
      }
      if (stored.state === 'done' && stored.statusCode !== null) {
        const body = JSON.parse(stored.responseBody ?? 'null') as unknown;
        if (stored.statusCode >= 400) throw domainFromJson(body, true);
        return { status: stored.statusCode, body };
      }
      if (
        stored.sagaId !== null &&
        (stored.sagaState === 'done' || stored.sagaState === 'failed')
      ) {
        // the first request was cut off after its saga finished (maybe by recovery)
        const outcome = await this.outcomes.outcomeOf(stored.sagaId);
        if (outcome?.kind === 'error') {
          const status = httpStatusOf(outcome.error.code);
          await this.batched.complete(scope, status, JSON.stringify(errorJson(outcome.error)));
          throw outcome.error;
        }
        if (outcome?.kind === 'answer') {
          await this.batched.complete(scope, outcome.status, JSON.stringify(outcome.body));
          return { status: outcome.status, body: outcome.body };
        }
      }
      if (!stored.lockExpired) {
        throw new DomainError(
          'IDEMPOTENCY_KEY_IN_USE',
          'A request with this Idempotency-Key is still running',
          { retryAfterSeconds: 1 },
        );
      }
      // the request died: nothing started, or what it started failed (holds nothing)
      const holdsNothing = stored.sagaId === null || stored.sagaState === 'failed';
      const lease = this.batched.leaseSeconds;
      if (holdsNothing && (await this.keys.takeOver(scope, stored.sagaId, lease))) return undefined;
      if (!holdsNothing) {
        // its saga is unfinished: recovery settles it once the saga's lease is over
        throw new DomainError(
          'SERVICE_UNAVAILABLE',
          'The request with this Idempotency-Key was cut off and is being finished; retry shortly',
          { retryAfterSeconds: Math.max(0, stored.sagaLeaseLeft ?? 0) + this.recoverySeconds },
        );
      }
    }
    throw new DomainError(
      'IDEMPOTENCY_KEY_IN_USE',
      'A request with this Idempotency-Key is still running',
      { retryAfterSeconds: 1 },
    );
  }
}

function errorJson(error: DomainError): unknown {
  return {
    statusCode: httpStatusOf(error.code),
    code: error.code,
    message: error.message,
    details: error.details,
  };
}

function domainFromJson(body: unknown, replayed = false): DomainError {
  const b = body as { code: DomainError['code']; message: string; details?: unknown };
  return Object.assign(new DomainError(b.code, b.message, { details: b.details }), { replayed });
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
