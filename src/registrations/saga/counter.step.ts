import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { Failpoints } from '../../common/failpoints';
import { isConnectionError, scheduleUnavailable } from '../../database/db-errors';
import { MetricsService } from '../../metrics/metrics.service';
import {
  CounterClaim,
  CounterOutcomeUnknownError,
  PublicCounterRepository,
} from '../../schedule/public-counter.repository';
import { SagaRepository } from './saga.repository';
import type { SagaKind } from './saga.types';

/** A release leg whose private half has committed: its saga is `releasing` until this is done. */
export interface Owed {
  sagaId: string;
  claim: CounterClaim;
}

// The public step of a batch and its compensation, shared by registrations, promotions and
// changes (registration.batch.ts). A take commits in public before any row records its seat; a
// release is given back only once its private half committed (registration.saga.ts, 1-2).
@Injectable()
export class CounterStep {
  private readonly logger = new Logger(CounterStep.name);

  constructor(
    private readonly counters: PublicCounterRepository,
    private readonly sagas: SagaRepository,
    private readonly failpoints: Failpoints,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Steps 2 of a batch: one public allocation (claims granted in order, first fit). `abandon`
   * undoes step 1 when nothing was taken; seats known to be taken when something fails are
   * given back first. An unknown COMMIT outcome leaves every saga `taking` for recovery.
   * `undefined` claims do not ask for a seat (they queue behind a waitlist) and are not granted.
   */
  async take(
    kind: SagaKind,
    claims: (CounterClaim | undefined)[],
    abandon: () => Promise<void>,
  ): Promise<boolean[]> {
    const asked = claims.filter((c): c is CounterClaim => c !== undefined);
    let granted: boolean[] = [];
    let committed = false;
    try {
      this.failpoints.hit('take.before-counters');
      granted = asked.length > 0 ? await this.counters.allocate(asked) : [];
      committed = true;
      this.failpoints.hit('take.after-counters');
      if (asked.length > 1) this.failpoints.hit('batch.after-counters');
    } catch (error) {
      if (error instanceof CounterOutcomeUnknownError) throw this.leftForRecovery(error);
      if (committed) {
        await this.compensate(
          kind,
          asked.filter((_, k) => granted[k]),
          abandon,
        );
      } else {
        await abandon().catch((e: unknown) =>
          this.logger.error({ err: String(e) }, 'abandon left for recovery'),
        );
      }
      throw error;
    }
    let next = 0;
    return claims.map((c) => (c === undefined ? false : granted[next++]));
  }

  // the private settle failed: a lost connection may have committed it (recovery decides);
  // anything else is known not to have committed, so the seats are given back and step 1 undone
  async afterFailedSettle(
    kind: SagaKind,
    error: unknown,
    taken: { claim: CounterClaim; granted: boolean }[],
    abandon: () => Promise<void>,
  ): Promise<void> {
    if (isConnectionError(error) || isUnavailable(error)) {
      this.logger.error({ err: String(error) }, 'batch outcome unknown; left for recovery');
      return;
    }
    await this.compensate(
      kind,
      taken.filter((t) => t.granted).map((t) => t.claim),
      abandon,
    );
  }

  /** Seats granted to sagas recovery took over meanwhile: it counts without our take. */
  async giveBackLost(lost: CounterClaim[]): Promise<void> {
    if (lost.length > 0) await this.counters.releaseAll(lost);
  }

  /** The public half of releases whose private half committed: the sum given back, sagas done. */
  async releaseAll(owing: Owed[]): Promise<void> {
    if (owing.length === 0) return;
    this.failpoints.hit('release.before-counters');
    try {
      await this.counters.releaseAll(owing.map((o) => o.claim));
    } catch (error) {
      // the registrations already no longer hold their seats; the sagas stay `releasing` and
      // recovery gives the seats back
      this.logger.warn({ sagas: owing.length, err: String(error) }, 'release left for recovery');
      return;
    }
    this.failpoints.hit('release.after-counters');
    await this.sagas.finishReleases(owing.map((o) => o.sagaId)).catch((error: unknown) => {
      this.logger.warn({ err: String(error) }, 'releases recorded late; recovery will close them');
    });
  }

  private async compensate(
    kind: SagaKind,
    taken: CounterClaim[],
    abandon: () => Promise<void>,
  ): Promise<void> {
    try {
      if (taken.length > 0) await this.counters.releaseAll(taken);
      await abandon();
      this.metrics.sagaCompensation(kind);
      this.logger.warn({ seats: taken.length }, 'batch compensated');
    } catch (error) {
      this.logger.error({ err: String(error) }, 'compensation left for recovery');
    }
  }

  private leftForRecovery(cause: unknown): DomainError {
    this.logger.error({ err: String(cause) }, 'batch outcome unknown; left for recovery');
    return scheduleUnavailable();
  }
}

function isUnavailable(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'SERVICE_UNAVAILABLE';
}

/** What a request of a batch whose settle failed is answered: unknown outcomes are a 503. */
export function settleError(error: unknown): unknown {
  return isConnectionError(error) || isUnavailable(error)
    ? new DomainError('SERVICE_UNAVAILABLE', 'The service is unavailable; try again shortly', {
        retryAfterSeconds: 5,
      })
    : error;
}
