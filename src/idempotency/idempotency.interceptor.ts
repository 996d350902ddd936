import { createHash } from 'node:crypto';
import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, Observable } from 'rxjs';
import type { AuthUser } from '../auth/auth-user';
import { DomainError, httpStatusOf } from '../common/domain-error';
import { MetricsService } from '../metrics/metrics.service';
import { IdempotencyRepository } from './idempotency.repository';
import { SagaOutcomeReader } from './saga-outcome.reader';

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

// The contract's idempotency: the key is scoped to the caller, the method and the route; the
// first finished answer is replayed; a key in use is 409, a key reused with another body 422;
// 5xx answers are not stored. A request cut off mid-saga answers, once recovery has finished
// the saga, with that saga's outcome.
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly keys: IdempotencyRepository,
    private readonly outcomes: SagaOutcomeReader,
    private readonly metrics: MetricsService,
  ) {}

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
    try {
      const body: unknown = await lastValueFrom(next.handle(), { defaultValue: undefined });
      await this.keys.complete(scope, response.statusCode, JSON.stringify(body ?? null));
      return body;
    } catch (error) {
      if (error instanceof DomainError && httpStatusOf(error.code) < 500) {
        const status = httpStatusOf(error.code);
        await this.keys.complete(scope, status, JSON.stringify(errorJson(error)));
      } else {
        await this.keys.release(scope).catch(() => undefined);
      }
      throw error;
    }
  }

  private async claimOrReplay(
    scope: string,
    requestHash: string,
  ): Promise<{ status: number; body: unknown } | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.keys.claim(scope, requestHash)) return undefined;
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
      if (stored.lockExpired && stored.sagaId === null && (await this.keys.takeOver(scope)))
        return undefined;
      if (
        stored.sagaId !== null &&
        (stored.sagaState === 'done' || stored.sagaState === 'failed')
      ) {
        // the first request was cut off after its saga finished (maybe by recovery)
        const outcome = await this.outcomes.outcomeOf(stored.sagaId);
        if (outcome) {
          await this.keys.complete(scope, outcome.status, JSON.stringify(outcome.body));
          if (outcome.status >= 400) throw domainFromJson(outcome.body);
          return outcome;
        }
      }
      throw new DomainError(
        'IDEMPOTENCY_KEY_IN_USE',
        'A request with this Idempotency-Key is still running',
        undefined,
        1,
      );
    }
    throw new DomainError(
      'IDEMPOTENCY_KEY_IN_USE',
      'A request with this Idempotency-Key is still running',
      undefined,
      1,
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
  return Object.assign(new DomainError(b.code, b.message, b.details), { replayed });
}

/** POST/PATCH/PUT/DELETE routes: honours the Idempotency-Key header. */
export function Idempotent(): MethodDecorator {
  return applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Optional. Same key and body: the first answer is replayed (Idempotent-Replayed: true). ' +
        'Still running: 409 IDEMPOTENCY_KEY_IN_USE. Other body: 422 IDEMPOTENCY_KEY_REUSED. Kept 48 hours.',
    }),
  );
}

/** The path as the client sent it, without the query (which the request hash covers). */
function pathOf(url: string): string {
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}
