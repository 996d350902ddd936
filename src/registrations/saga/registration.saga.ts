import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { Failpoints } from '../../common/failpoints';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { isConnectionError, scheduleUnavailable } from '../../database/db-errors';
import { MetricsService } from '../../metrics/metrics.service';
import {
  CounterKey,
  CounterOutcomeUnknownError,
  PublicCounterRepository,
} from '../../schedule/public-counter.repository';
import { DateSettingsRepository } from '../date-settings.repository';
import { RegistrationRepository } from '../registration.repository';
import { RegistrationStatus } from '../registration.types';
import { changeRecord, releaseKeysOf, takeKeysOf } from './saga.legs';
import { CounterStep } from './counter.step';
import { SagaTakenOverError } from './saga.errors';
import { SagaRepository } from './saga.repository';
import { SagaStepsRepository } from './saga-steps.repository';
import { HistoryEntry, OutboxMessage, SagaRow } from './saga.types';

/*
 * The registration saga. Two databases, no transaction spanning them:
 *   private: the registration, its saga row, history and outbox   (ours)
 *   public:  the reserved counters of slot, hour and date          (theirs)
 *
 * Invariants, true after every single statement:
 *  1. public reserved >= spots of the registrations the private side says hold a seat
 *     (status confirmed/checked_in). So a seat is never promised twice: capacity is enforced
 *     by the public conditional increment, and private never claims more than public counts.
 *     Hence the order: a TAKE commits in public before private records the seat; a RELEASE
 *     commits in private (registration no longer holds) before public gives the seat back.
 *  2. Every public change in flight has a saga row in state `taking` or `releasing`, written
 *     in private before the public change is attempted. Recovery (recovery.service.ts) finds
 *     rows whose lease expired, re-derives the counters from the private truth under the
 *     counters' row locks (CounterReconciler), then runs the remaining steps again.
 *  3. Only the holder of a registration's saga (pending_saga_id) may finish it: every finishing
 *     update is fenced on it, so a saga recovery took over cannot also be finished here.
 *
 * If the process dies:
 *  - before step 1 commits: nothing happened.
 *  - after step 1 (intent), before/after the public take: the saga is `taking`; recovery
 *    resets the counters to the private truth and takes again (confirm, waitlist or fail).
 *  - after step 3 (confirmed) with a release leg left: `releasing`; recovery resets counters.
 *  - a cancel after its private commit: `releasing`; same.
 * The client of an interrupted request gets the finished outcome by retrying with the same
 * Idempotency-Key (the key row points at the saga; saga-outcomes.ts rebuilds the answer).
 *
 * Batches (registration.batch.ts): new registrations, cancels, party changes, moves and
 * promotions of one event date run these same steps for many registrations at once, one
 * transaction per step for the whole batch (changes through the same private steps of
 * saga-steps.repository.ts, row by row), and every registration keeps its own saga row and its
 * own fence. So 1-3 hold for each row of a batch exactly as for one request: a batch's public
 * step takes the SUM of the seats granted (under the counters' row locks) only after every
 * intent has committed, and settles no row before that commit; a batch's cancels (and changes
 * that free spots) commit in private before the sum is given back.
 * A process dying between two steps of a batch leaves each of its rows in one of the states
 * above (all `taking` after the intents or the public step, all `releasing` after the cancels'
 * commit, all finished after the settle), and recovery treats them one by one as listed. The
 * step that stays one request at a time is resume (recovery, in this file: `take` below, then
 * the release leg); a change's steps are those of a batch (change.batch.ts).
 *
 * This folder holds the whole saga: this file (the steps and their compensations, in order),
 * saga-steps.repository.ts (the private half of each step: one transaction over the table
 * repositories), saga.repository.ts (registration_sagas), recovery.service.ts,
 * reconciliation/ (counters against the private truth: recovery, backfill, drift report) and
 * registration.batch.ts with the files its header names (the group commit per date; batch/
 * holds the private steps of register, promote and cancel batches, one file each).
 */

export type TakeOutcome = 'confirmed' | 'waitlisted' | 'full';

@Injectable()
export class RegistrationSaga {
  private readonly logger = new Logger(RegistrationSaga.name);
  private readonly leaseSeconds: number;
  private readonly recoverySeconds: number;

  constructor(
    private readonly steps: SagaStepsRepository,
    private readonly sagas: SagaRepository,
    private readonly registrations: RegistrationRepository,
    private readonly settings: DateSettingsRepository,
    private readonly counters: PublicCounterRepository,
    private readonly counterStep: CounterStep,
    private readonly failpoints: Failpoints,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.leaseSeconds = config.sagaGraceSeconds;
    this.recoverySeconds = Math.max(1, Math.ceil(config.recoveryIntervalMs / 1000));
  }

  /**
   * When to try again a registration another saga holds: once a live saga has had a moment
   * (at most 5 s, within its lease), or once recovery has had a pass at a dead one (lease over).
   */
  async retryAfterSeconds(holderSagaId: string | null): Promise<number> {
    const holder = holderSagaId === null ? undefined : await this.sagas.find(holderSagaId);
    if (!holder || holder.leaseSecondsLeft <= 0) return this.recoverySeconds;
    return Math.min(5, Math.ceil(holder.leaseSecondsLeft));
  }

  // New registrations, changes, cancels and promotions run as batches (registration.batch.ts),
  // through the same steps for many rows at once; what stays here is recovery's resume and the
  // two legs it re-runs, one saga at a time.

  /**
   * Recovery: runs the remaining steps of a `taking` saga whose counters have just been reset to
   * the private truth (so its take is known not to be applied).
   */
  async resume(saga: SagaRow): Promise<TakeOutcome> {
    const registration = await this.registrations.findById(saga.registrationId);
    if (!registration || registration.pendingSagaId !== saga.id) {
      await this.steps.abandon(saga, 'ORPHANED');
      return 'full';
    }
    const moving = saga.release !== null && saga.plan.eventSlotId !== registration.eventSlotId;
    switch (saga.kind) {
      case 'register':
        return this.take(
          saga,
          'pending',
          { action: 'confirmed', toStatus: 'confirmed' },
          { kind: 'confirmed' },
        );
      case 'promote':
        return this.take(
          saga,
          'waitlisted',
          { action: 'promoted', toStatus: 'confirmed' },
          { kind: 'promoted' },
        );
      case 'change': {
        const { history, outbox } = changeRecord(moving);
        return this.take(saga, registration.status, history, outbox);
      }
      case 'cancel':
        return 'full';
    }
  }

  // ---- the two legs ------------------------------------------------------------------------

  /**
   * Steps 2 and 3 of any saga with a take leg; also what recovery re-runs once it has reset the
   * counters. Compensation lives here: whatever fails after the public take and is known not to
   * have committed in private gives the seat back; whatever is ambiguous is left to recovery.
   */
  async take(
    saga: SagaRow,
    fromStatus: RegistrationStatus,
    history: Pick<HistoryEntry, 'action' | 'toStatus'>,
    outbox: OutboxMessage,
  ): Promise<TakeOutcome> {
    const leg = saga.take;
    if (!leg) throw new Error(`saga ${saga.id} has no take leg`);
    const keys = takeKeysOf(saga);
    let taken = false;
    try {
      this.failpoints.hit('take.before-counters');
      taken = await this.counters.takeKeys(keys, leg.spots);
      this.failpoints.hit('take.after-counters');
    } catch (error) {
      if (error instanceof CounterOutcomeUnknownError) throw this.leftForRecovery(saga, error);
      if (taken) await this.compensateTake(saga, keys, leg.spots);
      else await this.abandon(saga, error);
      throw error;
    }

    if (!taken) {
      const settings = await this.settings.find(saga.eventDateId);
      const outcome = await this.steps.completeNoRoom(saga, settings);
      if (outcome.kind === 'lost') throw new SagaTakenOverError();
      return outcome.kind;
    }

    let completed: Awaited<ReturnType<SagaStepsRepository['completeTake']>>;
    try {
      completed = await this.steps.completeTake(saga, fromStatus, history, outbox);
    } catch (error) {
      // a failed COMMIT may or may not have landed: recovery decides from the private truth
      if (isConnectionError(error)) throw this.leftForRecovery(saga, error);
      await this.compensateTake(saga, keys, leg.spots);
      throw error;
    }
    if (completed.kind === 'lost') {
      // recovery took this saga over and has accounted for the counters without our take
      await this.counters.releaseKeys(keys, leg.spots);
      throw new SagaTakenOverError();
    }
    this.failpoints.hit('take.after-confirm');
    if (saga.release) {
      await this.counterStep.releaseAll([
        { sagaId: saga.id, claim: { keys: releaseKeysOf(saga), spots: saga.release.spots } },
      ]);
    }
    return 'confirmed';
  }

  // compensation of a take: give the seat back, then undo step 1
  private async compensateTake(saga: SagaRow, keys: CounterKey[], spots: number): Promise<void> {
    try {
      await this.counters.releaseKeys(keys, spots);
      await this.steps.abandon(saga, 'COMPENSATED');
      this.metrics.sagaCompensation(saga.kind);
      this.logger.warn(
        { sagaId: saga.id, registrationId: saga.registrationId },
        'saga compensated',
      );
    } catch (error) {
      this.logger.error({ sagaId: saga.id, err: String(error) }, 'compensation left for recovery');
    }
  }

  // nothing was taken: undo step 1 so the household can try again
  private async abandon(saga: SagaRow, cause: unknown): Promise<void> {
    const outcome = cause instanceof DomainError ? cause.code : 'ABANDONED';
    await this.steps.abandon(saga, outcome).catch((error: unknown) => {
      this.logger.error({ sagaId: saga.id, err: String(error) }, 'abandon left for recovery');
    });
  }

  private leftForRecovery(saga: SagaRow, cause: unknown): DomainError {
    this.logger.error(
      { sagaId: saga.id, err: String(cause) },
      'saga outcome unknown; left for recovery',
    );
    return scheduleUnavailable();
  }
}
