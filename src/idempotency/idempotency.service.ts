import { CallHandler, Inject, Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { lastValueFrom } from 'rxjs';
import { DomainError, httpStatusOf } from '../common/domain-error';
import { Failpoints } from '../common/failpoints';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { IdempotencyBatcher } from './idempotency.batcher';
import type { IdempotentRequest } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';
import { SAGA_OUTCOME_RESOLVER, SagaOutcomeResolver } from './saga-outcome.port';

// The rules behind the idempotency interceptor, one instance per app: every controller with
// write routes gets its own interceptor, and they all delegate here.
@Injectable()
export class IdempotencyService {
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

  /**
   * The route behind `next`, run at most once per scope (the caller's key): the first finished
   * answer is stored and replayed; see IdempotencyInterceptor for the contract.
   */
  async run(
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
