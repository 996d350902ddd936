import { Inject, Injectable, Logger } from '@nestjs/common';
import { Failpoints } from '../../common/failpoints';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import type { CounterClaim } from '../../schedule/public-counter.repository';
import type { Registration } from '../registration.types';
import { ChangeStepsRepository } from './change-steps.repository';
import { CounterStep, Owed, settleError } from './counter.step';
import { Settled } from '../../common/group-commit.queue';
import type { StepSaga } from './saga-steps.repository';
import { SagaTakenOverError } from './saga.errors';
import { changeRecord, legsOfChange, releaseKeysOf, takeKeysOf } from './saga.legs';
import type { ChangeOutcome, HistoryEntry, Leg, OutboxMessage, SagaPlan } from './saga.types';

export interface ChangeInput {
  registration: Registration;
  plan: SagaPlan;
  actor: string;
  idempotencyScope?: string;
}

interface Planned {
  input: ChangeInput;
  take: Leg | null;
  release: Leg | null;
  history: Pick<HistoryEntry, 'action' | 'toStatus'>;
  outbox: OutboxMessage;
}

const CHANGED: ChangeOutcome = { kind: 'changed' };
const FULL: ChangeOutcome = { kind: 'full' };

/*
 * The party changes and moves of a batch (registration.batch.ts), the saga run once for all:
 *
 *   no take leg (smaller party, a waitlisted party's change)
 *     private tx: every change applied, a saga row each (`releasing` when spots are freed)
 *     ─► public: give back the sum ─► sagas done
 *   take leg (bigger party, a move)
 *     private tx: every registration claimed by its own `taking` saga
 *     ─► public tx: grant in arrival order, first fit, under the counters' row locks
 *     ─► private tx: granted -> confirmed at the new target (saga `releasing` if it leaves an
 *        old seat), not granted -> released unchanged (CAPACITY_FULL); fenced per registration
 *     ─► public: give back the old seats of the moves, the sum ─► sagas done
 *
 * Those without a take go first: the room they give back is there for the takes after them.
 * Each change keeps its own saga row, so crash cases are those of registration.saga.ts for
 * each: `taking` after the claims or the public step (recovery resets the counters and takes
 * again, RegistrationSaga.resume), `releasing` after a private commit that owes a release.
 */
@Injectable()
export class ChangeBatch {
  private readonly logger = new Logger(ChangeBatch.name);
  private readonly leaseSeconds: number;

  constructor(
    private readonly steps: ChangeStepsRepository,
    private readonly counterStep: CounterStep,
    private readonly failpoints: Failpoints,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.leaseSeconds = config.sagaGraceSeconds;
  }

  /** Each change's outcome, in the order given: changed, full (as it was) or busy. */
  async run(inputs: ChangeInput[]): Promise<Settled<ChangeOutcome>[]> {
    const answers: Settled<ChangeOutcome>[] = inputs.map(() => ({
      ok: false,
      error: new Error('not run'),
    }));
    const planned = inputs.map((input, i) => ({ i, p: plan(input) }));
    await this.runGroup(
      answers,
      planned.filter((x) => !x.p.take),
      (ps) => this.applyAll(ps),
    );
    await this.runGroup(
      answers,
      planned.filter((x) => x.p.take),
      (ps) => this.takeAll(ps),
    );
    return answers;
  }

  // a group's failure is the answer of its own changes only
  private async runGroup(
    answers: Settled<ChangeOutcome>[],
    group: { i: number; p: Planned }[],
    work: (changes: Planned[]) => Promise<Settled<ChangeOutcome>[]>,
  ): Promise<void> {
    if (group.length === 0) return;
    try {
      const settled = await work(group.map((x) => x.p));
      settled.forEach((a, k) => (answers[group[k].i] = a));
    } catch (error) {
      for (const { i } of group) answers[i] = { ok: false, error };
    }
  }

  // ---- no take: private commit -> public release of the sum --------------------------------

  private async applyAll(changes: Planned[]): Promise<Settled<ChangeOutcome>[]> {
    const applied = await this.steps.applyWithoutTake(
      changes.map(({ input, release, history, outbox }) => {
        const r = input.registration;
        return {
          registration: r,
          plan: input.plan,
          release,
          actor: input.actor,
          idempotencyScope: input.idempotencyScope,
          leaseSeconds: this.leaseSeconds,
          history: {
            ...history,
            fromStatus: r.status,
            toStatus: r.status,
            spots: input.plan.spots,
            eventSlotId: input.plan.eventSlotId,
          },
          outbox,
        };
      }),
    );
    if (applied.filter((a) => a.kind === 'claimed').length > 1)
      this.failpoints.hit('batch.after-intent');
    await this.counterStep.releaseAll(
      changes.flatMap((c, k) => {
        const a = applied[k];
        return a.kind === 'claimed' && c.release
          ? [owed(a.sagaId, { take: null, release: c.release, plan: c.input.plan })]
          : [];
      }),
    );
    return applied.map((a) => ({ ok: true, value: a.kind === 'busy' ? a : CHANGED }));
  }

  // ---- take: claims -> one public allocation -> settle -> release of the old seats --------

  private async takeAll(changes: Planned[]): Promise<Settled<ChangeOutcome>[]> {
    const claims = await this.steps.begin(
      changes.map(({ input, take, release }) => {
        const r = input.registration;
        return {
          registrationId: r.id,
          expectedVersion: r.version,
          allowed: [r.status],
          kind: 'change' as const,
          eventDateId: r.eventDateId,
          take,
          release,
          plan: input.plan,
          actor: input.actor,
          idempotencyScope: input.idempotencyScope,
          leaseSeconds: this.leaseSeconds,
        };
      }),
    );
    const answers: Settled<ChangeOutcome>[] = claims.map((c) =>
      c.kind === 'busy' ? { ok: true, value: c } : { ok: false, error: new Error('not settled') },
    );
    const begun = changes.flatMap((c, k) => {
      const claim = claims[k];
      return claim.kind === 'claimed' ? [{ k, c, saga: sagaOf(c, claim.sagaId) }] : [];
    });
    if (begun.length === 0) return answers;
    const fail = (error: unknown) => {
      for (const { k } of begun) answers[k] = { ok: false, error };
      return answers;
    };
    const sagas = begun.map((b) => b.saga);
    const asked = sagas.map(claimOf);

    let granted: boolean[];
    try {
      try {
        if (begun.length > 1) this.failpoints.hit('batch.after-intent');
      } catch (error) {
        // an error (not a crash) before the take: nothing was taken, so undo step 1
        await this.steps.abandon(sagas, 'ABANDONED').catch((e: unknown) => {
          this.logger.error({ err: String(e) }, 'abandon left for recovery');
        });
        throw error;
      }
      granted = await this.counterStep.take('change', asked, () =>
        this.steps.abandon(sagas, 'ABANDONED'),
      );
    } catch (error) {
      return fail(error);
    }

    let settled: ('completed' | 'full' | 'lost')[];
    try {
      settled = await this.steps.settle(
        begun.map(({ c, saga }, j) => ({
          saga,
          granted: granted[j],
          fromStatus: c.input.registration.status,
          history: c.history,
          outbox: c.outbox,
        })),
      );
    } catch (error) {
      await this.counterStep.afterFailedSettle(
        'change',
        error,
        asked.map((claim, j) => ({ claim, granted: granted[j] })),
        () => this.steps.abandon(sagas, 'COMPENSATED'),
      );
      return fail(settleError(error));
    }
    // recovery took these over and accounted for the counters without our take: give it back
    await this.counterStep.giveBackLost(
      asked.filter((_, j) => granted[j] && settled[j] === 'lost'),
    );
    try {
      this.failpoints.hit('take.after-confirm');
      if (begun.length > 1) this.failpoints.hit('batch.after-settle');
    } catch (error) {
      return fail(error);
    }

    await this.counterStep.releaseAll(
      begun.flatMap(({ saga }, j) =>
        settled[j] === 'completed' && saga.release
          ? [owed(saga.id, { ...saga, release: saga.release })]
          : [],
      ),
    );
    begun.forEach(({ k }, j) => {
      const s = settled[j];
      answers[k] =
        s === 'lost'
          ? { ok: false, error: new SagaTakenOverError() }
          : { ok: true, value: s === 'completed' ? CHANGED : FULL };
    });
    return answers;
  }
}

// The legs a change needs (saga.legs.ts) and what it records once applied. A net move is
// marked in the plan, so the saga row (and recovery) moves only the counters that change.
function plan(input: ChangeInput): Planned {
  const r = input.registration;
  const { take, release, netMove } = legsOfChange(r, input.plan);
  if (netMove) input.plan.netMove = true;
  return { input, take, release, ...changeRecord(input.plan.eventSlotId !== r.eventSlotId) };
}

function sagaOf(c: Planned, sagaId: string): StepSaga & { take: Leg } {
  const r = c.input.registration;
  return {
    id: sagaId,
    registrationId: r.id,
    eventDateId: r.eventDateId,
    kind: 'change',
    take: c.take!,
    release: c.release,
    plan: c.input.plan,
    actor: c.input.actor,
  };
}

function claimOf(saga: StepSaga & { take: Leg }): CounterClaim {
  return { keys: takeKeysOf(saga), spots: saga.take.spots };
}

// a release leg whose private half has committed, by the counters it gives back
function owed(sagaId: string, legs: { take: Leg | null; release: Leg; plan: SagaPlan }): Owed {
  return { sagaId, claim: { keys: releaseKeysOf(legs), spots: legs.release.spots } };
}
