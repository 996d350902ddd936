import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { Failpoints } from '../../common/failpoints';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { CounterClaim, countersOf } from '../../schedule/public-counter.repository';
import type { CounterTarget } from '../../schedule/schedule.types';
import { RegistrationRepository } from '../registration.repository';
import type { DateSettings, Registration } from '../registration.types';
import { WaitlistRepository } from '../waitlist.repository';
import { GroupCommitQueue, Settled } from '../../common/group-commit.queue';
import { cancelledView, pendingView, settledView } from './batch.views';
import { CancelIntent, Intent, Settlement } from './batch/batch.types';
import { CancelSteps } from './batch/cancel.steps';
import { RegisterSteps } from './batch/register.steps';
import { ChangeBatch, ChangeInput } from './change.batch';
import { CounterStep, settleError } from './counter.step';
import { PromotionBatch } from './promotion.batch';
import { SagaTakenOverError } from './saga.errors';
import { targetKey, targetOf } from './saga.legs';
import { ChangeOutcome, NewRegistration, SYSTEM_ACTOR } from './saga.types';

/*
 * Group commit per event date: the registration saga run once for a whole batch.
 *
 *   requests for date D ──► GroupCommitQueue(D) ──► one batch at a time per date and instance
 *
 *   batch = [cancels] [changes] [promotions] [registers], in that order:
 *     cancels    private tx: all cancelled + saga rows (releasing) ─► public: give back the sum
 *                ─► sagas done
 *     changes    (change.batch.ts) those taking nothing first: private tx: all applied + saga
 *                rows ─► public: give back the sum ─► sagas done; then those with a take leg:
 *                private tx: all claimed (saga rows `taking`) ─► public tx: grant in arrival
 *                order, first fit ─► private tx: confirmed | unchanged (full), fenced per
 *                registration ─► public: give back the old seats of the moves ─► sagas done
 *     promotions whatever the releases freed goes to the queues first (first fit by place)
 *     registers  private tx: all intents (pending rows + saga rows, `taking`)
 *                ─► public tx: lock slot/hour/date rows FOR UPDATE, grant in arrival order,
 *                   first fit, reserved += sum                      (capacity: the database's)
 *                ─► private tx: confirmed | waitlisted (place + position) | removed (full),
 *                   history, outbox; fenced per registration on its own saga
 *                ─► promotions for queues that grew (room may have appeared meanwhile)
 *
 * Every registration keeps its own saga row, so the invariants of registration.saga.ts hold
 * for each one exactly as if it had run alone; a batch only shares statements. Nothing in
 * memory guards capacity, order or idempotency: another instance batching the same date runs
 * its batches concurrently and the database's row locks (counters, queue rows, fencing on
 * pending_saga_id) keep both correct.
 *
 * If the process dies between two steps of a batch (same as for one request, for each row):
 *  - before the intents commit: nothing happened; no request was answered.
 *  - after the intents, before or after the public commit: every saga is `taking`; recovery
 *    resets the date's counters to the private truth (pending rows hold nothing) and takes
 *    again for each, oldest first (confirm, waitlist or fail).
 *  - after the settle: all finished; answers may not have been sent: a retry with the same
 *    Idempotency-Key gets its own saga's outcome.
 *  - cancels, and changes that take nothing, after their private commit: sagas `releasing`
 *    (or done when nothing is owed); recovery resets the counters.
 *  - changes with a take leg and promotions after their claim: sagas `taking`, as for
 *    registrations (recovery resumes each: RegistrationSaga.resume); after their settle, the
 *    moves' sagas `releasing` until their old seats are given back.
 * An error (not a crash) is compensated at once for the whole batch, as for one request: seats
 * taken are given back and step 1 undone; an ambiguous public COMMIT is left to recovery.
 *
 * This file holds the queue, the order of a batch (`run`) and the registers and cancels; the
 * changes are change.batch.ts (private side change-steps.repository.ts), the promotions
 * promotion.batch.ts, the public step with its compensation (shared by all) counter.step.ts,
 * the answers built from what was written batch.views.ts, and the private transactions of
 * registers, cancels and promotions batch/ (register.steps.ts, cancel.steps.ts, promote.steps.ts).
 */

export type BatchOutcome = 'confirmed' | 'waitlisted' | 'full';

type Op =
  | { kind: 'register'; input: NewRegistration; settings: DateSettings }
  | { kind: 'cancel'; registration: Registration; actor: string; idempotencyScope?: string }
  | { kind: 'change'; input: ChangeInput }
  | { kind: 'promote'; actor: string };

type Answer =
  | { registration: Registration; outcome: BatchOutcome }
  | Registration
  | 'busy'
  | ChangeOutcome
  | string[];

@Injectable()
export class RegistrationBatch {
  private readonly logger = new Logger(RegistrationBatch.name);
  private readonly queue: GroupCommitQueue<Op, Answer>;
  private readonly leaseSeconds: number;

  constructor(
    private readonly registerSteps: RegisterSteps,
    private readonly cancelSteps: CancelSteps,
    private readonly waitlist: WaitlistRepository,
    private readonly registrations: RegistrationRepository,
    private readonly counterStep: CounterStep,
    private readonly promotions: PromotionBatch,
    private readonly changes: ChangeBatch,
    private readonly failpoints: Failpoints,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.leaseSeconds = config.sagaGraceSeconds;
    this.queue = new GroupCommitQueue(
      (key, ops) => this.run(Number(key), ops),
      config.batchMaxSize,
    );
  }

  // ---- what requests call -------------------------------------------------------------------

  async register(
    input: NewRegistration,
    settings: DateSettings,
  ): Promise<{ registration: Registration; outcome: BatchOutcome }> {
    return (await this.queue.run(String(input.target.eventDateId), {
      kind: 'register',
      input,
      settings,
    })) as { registration: Registration; outcome: BatchOutcome };
  }

  /** The cancelled registration, or 'busy' when it changed since the caller read it. */
  async cancel(
    registration: Registration,
    actor: string,
    idempotencyScope?: string,
  ): Promise<Registration | 'busy'> {
    return (await this.queue.run(String(registration.eventDateId), {
      kind: 'cancel',
      registration,
      actor,
      idempotencyScope,
    })) as Registration | 'busy';
  }

  async change(input: ChangeInput): Promise<ChangeOutcome> {
    return (await this.queue.run(String(input.registration.eventDateId), {
      kind: 'change',
      input,
    })) as ChangeOutcome;
  }

  /** Confirms the oldest waitlisted registrations of a date that fit now; their ids. */
  async promoteDate(eventDateId: number, actor: string): Promise<string[]> {
    return (await this.queue.run(String(eventDateId), { kind: 'promote', actor })) as string[];
  }

  // ---- one batch ----------------------------------------------------------------------------

  private async run(eventDateId: number, ops: Op[]): Promise<Settled<Answer>[]> {
    const results: Settled<Answer>[] = ops.map(() => ({
      ok: false,
      error: new Error('not run'),
    }));
    const indexed = ops.map((op, i) => ({ op, i }));
    const of = <K extends Op['kind']>(kind: K) =>
      indexed.filter((x): x is { op: Extract<Op, { kind: K }>; i: number } => x.op.kind === kind);
    // targets whose room grew, and queues that lost someone (positions to announce)
    const freed = new Map<string, CounterTarget>();
    const queuesMoved = new Map<string, CounterTarget>();
    // a promotion a release made room for is the system's act, caused by that release (the
    // first of the batch when several freed room at once)
    let promotionCause: string | undefined;

    const cancels = of('cancel');
    if (cancels.length > 0) {
      await this.settle(
        results,
        cancels,
        () => this.cancelAll(cancels.map((x) => x.op)),
        (c) => {
          if (c === 'busy') return;
          const t = targetOf(c);
          // every cancel runs the date's promotions, as one request did (room may have appeared
          // behind our back); a waitlisted one (never confirmed) also moved its queue
          freed.set(targetKey(t), t);
          if (c.confirmedAt === null) queuesMoved.set(targetKey(t), t);
        },
      );
      promotionCause ??= cancels[0].op.registration.id;
    }

    const changes = of('change');
    if (changes.length > 0) {
      await this.settle(
        results,
        changes,
        () => this.changes.run(changes.map((x) => x.op.input)),
        (outcome, { op }) => {
          if (outcome.kind !== 'changed') return;
          const r = op.input.registration;
          const t = targetOf(r);
          freed.set(targetKey(t), t);
          if (r.status === 'waitlisted') queuesMoved.set(targetKey(t), t);
          promotionCause ??= r.id;
        },
      );
    }

    const promotes = of('promote');
    if (freed.size > 0 || promotes.length > 0) {
      // the promotions the releases of this batch made room for are part of this batch; a
      // failure here does not undo the releases, which have committed (recovery's sweep, a
      // staff promote or the next release promotes again)
      try {
        // a staff promote acts itself; otherwise the system acts because of a release
        const staff = promotes[0]?.op.actor;
        const promoted = await this.promotions.promoteDate(
          eventDateId,
          staff ?? SYSTEM_ACTOR,
          [...freed.values()],
          staff === undefined ? promotionCause : undefined,
        );
        for (const { i } of promotes) results[i] = { ok: true, value: promoted };
      } catch (error) {
        for (const { i } of promotes) results[i] = { ok: false, error };
        this.logger.warn({ eventDateId, err: String(error) }, 'promotion after release deferred');
      }
    }

    const registers = of('register');
    if (registers.length > 0) {
      try {
        const answers = await this.registerAll(registers.map((x) => x.op));
        answers.forEach((a, k) => (results[registers[k].i] = a));
      } catch (error) {
        for (const { i } of registers) results[i] = { ok: false, error };
      }
    }

    for (const t of queuesMoved.values()) await this.promotions.announceQueue(t);
    return results;
  }

  private async settle<T extends { op: Op; i: number }, R extends Answer>(
    results: Settled<Answer>[],
    items: T[],
    work: () => Promise<Settled<R>[]>,
    each: (value: R, item: T) => void,
  ): Promise<void> {
    try {
      const answers = await work();
      answers.forEach((a, k) => {
        results[items[k].i] = a;
        if (a.ok) each(a.value, items[k]);
      });
    } catch (error) {
      for (const { i } of items) results[i] = { ok: false, error };
    }
  }

  // ---- cancels: private commit (no longer hold) -> public release of the sum ----------------

  private async cancelAll(
    ops: Extract<Op, { kind: 'cancel' }>[],
  ): Promise<Settled<Registration | 'busy'>[]> {
    const intents = await this.cancelSteps.begin(ops, this.leaseSeconds);
    this.failpoints.hit('cancel.after-intent');
    if (intents.filter(Boolean).length > 1) this.failpoints.hit('batch.after-intent');
    const owing = intents.filter((c): c is CancelIntent => c !== undefined && c.owes);
    await this.counterStep.releaseAll(
      owing.map((c) => ({
        sagaId: c.sagaId,
        claim: { keys: countersOf(c.registration), spots: c.registration.spots },
      })),
    );
    return intents.map((c) => ({ ok: true, value: c ? cancelledView(c) : 'busy' }));
  }

  // ---- registers: intents -> one public allocation -> settle --------------------------------

  private async registerAll(
    ops: Extract<Op, { kind: 'register' }>[],
  ): Promise<Settled<{ registration: Registration; outcome: BatchOutcome }>[]> {
    const eventDateId = ops[0].input.target.eventDateId;
    // the most recent read of the date's settings among the batch (each request read its own)
    const settings = ops[ops.length - 1].settings;
    // Seats freed a moment ago belong to the queue: a newcomer who would queue joins behind it
    // (and is seated at once by the first-fit promotion below if the queue cannot use the
    // room). One who declines the waitlist lets the queue go first, then tries for what is left.
    const waiting = settings.waitlistEnabled
      ? await this.waitlist.waitingTargets(eventDateId, [
          ...new Set(ops.map((o) => o.input.target.eventSlotId)),
        ])
      : new Set<number | null>();
    const queueBehind = (input: NewRegistration) =>
      waiting.has(input.target.eventSlotId) && input.joinWaitlist;
    const letQueueFirst = new Map<string, CounterTarget>();
    for (const { input } of ops) {
      if (waiting.has(input.target.eventSlotId) && !input.joinWaitlist)
        letQueueFirst.set(targetKey(input.target), input.target);
    }
    for (const t of letQueueFirst.values()) await this.promotions.promoteTarget(t, SYSTEM_ACTOR);

    const begun = await this.registerSteps.begin(
      ops.map((o) => o.input),
      this.leaseSeconds,
    );
    const intents = begun.filter((b): b is Intent => !(b instanceof DomainError));
    const answers: Settled<{ registration: Registration; outcome: BatchOutcome }>[] = begun.map(
      (b) =>
        b instanceof DomainError
          ? { ok: false, error: b }
          : { ok: false, error: new Error('not settled') },
    );
    if (intents.length === 0) return answers;
    const where = (intent: Intent) => begun.indexOf(intent);

    let granted: boolean[];
    let settlements: Settlement[];
    try {
      try {
        this.failpoints.hit('register.after-intent');
        if (intents.length > 1) this.failpoints.hit('batch.after-intent');
      } catch (error) {
        // an error (not a crash) before the take: nothing was taken, so undo step 1
        await this.registerSteps.abandon(intents, 'ABANDONED').catch((e: unknown) => {
          this.logger.error({ err: String(e) }, 'abandon left for recovery');
        });
        throw error;
      }
      granted = await this.counterStep.take(
        'register',
        intents.map((intent) =>
          queueBehind(intent.input)
            ? undefined
            : { keys: countersOf(intent.input.target), spots: intent.input.spots },
        ),
        () => this.registerSteps.abandon(intents, 'ABANDONED'),
      );
    } catch (error) {
      for (const intent of intents) answers[where(intent)] = { ok: false, error };
      return answers;
    }
    try {
      settlements = await this.registerSteps.settle(intents, granted, settings);
    } catch (error) {
      await this.counterStep.afterFailedSettle(
        'register',
        error,
        intents.map((intent, k) => ({ claim: claimOf(intent), granted: granted[k] })),
        () => this.registerSteps.abandon(intents, 'COMPENSATED'),
      );
      for (const intent of intents)
        answers[where(intent)] = { ok: false, error: settleError(error) };
      return answers;
    }
    // recovery took these over and accounted for the counters without our take: give it back
    await this.counterStep.giveBackLost(
      intents.filter((_, k) => settlements[k].outcome === 'lost' && granted[k]).map(claimOf),
    );
    try {
      this.failpoints.hit('take.after-confirm');
      if (intents.length > 1) this.failpoints.hit('batch.after-settle');
    } catch (error) {
      for (const intent of intents) answers[where(intent)] = { ok: false, error };
      return answers;
    }

    // room may have appeared between the take and joining the queue (a cancel elsewhere)
    const grown = new Map<string, CounterTarget>();
    intents.forEach((intent, k) => {
      if (settlements[k].outcome === 'waitlisted')
        grown.set(targetKey(intent.input.target), intent.input.target);
    });
    const moved = new Set<string>();
    for (const [key, t] of grown) {
      try {
        if ((await this.promotions.promoteTarget(t, SYSTEM_ACTOR)).length > 0) moved.add(key);
      } catch (error) {
        this.logger.warn({ eventDateId, err: String(error) }, 'promotion deferred');
      }
    }

    for (const [k, intent] of intents.entries()) {
      const queueMoved = moved.has(targetKey(intent.input.target));
      answers[where(intent)] = await this.answerOf(intent, settlements[k], queueMoved);
    }
    return answers;
  }

  // Each request's answer, built from what was written. Only a queue the batch's own promotion
  // moved afterwards is read back, since positions in it changed.
  private async answerOf(
    intent: Intent,
    s: Settlement,
    queueMoved: boolean,
  ): Promise<Settled<{ registration: Registration; outcome: BatchOutcome }>> {
    switch (s.outcome) {
      case 'lost':
        return { ok: false, error: new SagaTakenOverError() };
      case 'full':
        return { ok: true, value: { registration: pendingView(intent), outcome: 'full' } };
      case 'confirmed':
        return {
          ok: true,
          value: {
            registration: settledView(intent, 'confirmed', s.at, null),
            outcome: 'confirmed',
          },
        };
      case 'waitlisted': {
        const registration = queueMoved
          ? await this.registrations.findById(intent.registrationId)
          : settledView(intent, 'waitlisted', s.at, s.position);
        if (!registration) return { ok: false, error: new SagaTakenOverError() };
        return { ok: true, value: { registration, outcome: 'waitlisted' } };
      }
    }
  }
}

function claimOf(intent: Intent): CounterClaim {
  return { keys: countersOf(intent.input.target), spots: intent.input.spots };
}
