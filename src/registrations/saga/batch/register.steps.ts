import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError } from '../../../common/domain-error';
import { PRIVATE_DB } from '../../../database/database.constants';
import type { Queryable } from '../../../database/sql';
import { IdempotencyRepository } from '../../../idempotency/idempotency.repository';
import { NotificationOutboxRepository } from '../../../notifications/notification-outbox.repository';
import type { CounterTarget } from '../../../schedule/schedule.types';
import { RegistrationBatchRepository } from '../../registration-batch.repository';
import {
  HistoryRecord,
  RegistrationHistoryRepository,
} from '../../registration-history.repository';
import { RegistrationRepository } from '../../registration.repository';
import type { DateSettings } from '../../registration.types';
import { WaitlistRepository } from '../../waitlist.repository';
import { SagaRepository } from '../saga.repository';
import type { NewRegistration, NewSaga } from '../saga.types';
import { abandonHeld, batchTransaction } from './batch.transaction';
import type { Intent, Settlement } from './batch.types';

// The private steps of a register batch (registration.batch.ts), each ONE transaction for the
// whole batch over the table repositories. Every registration still gets its own saga row, so
// recovery, fencing (pending_saga_id) and Idempotency-Key replay see what one request writes.
@Injectable()
export class RegisterSteps {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly rows: RegistrationBatchRepository,
    private readonly registrations: RegistrationRepository,
    private readonly sagas: SagaRepository,
    private readonly keys: IdempotencyRepository,
    private readonly waitlist: WaitlistRepository,
    private readonly history: RegistrationHistoryRepository,
    private readonly outbox: NotificationOutboxRepository,
  ) {}

  /**
   * Step 1: the pending rows, their members and one saga row each (`taking`), in one
   * transaction. A household that already holds an active registration (or appears twice in
   * the batch) gets ALREADY_REGISTERED and the others go on.
   */
  async begin(inputs: NewRegistration[], leaseSeconds: number): Promise<(Intent | DomainError)[]> {
    return batchTransaction(this.db, async (m) => {
      const rows = await this.rows.insertPending(m, inputs);
      const kept = inputs
        .map((input, i) => ({ input, row: rows[i] }))
        .filter(
          (x): x is { input: NewRegistration; row: { id: string; createdAt: Date } } =>
            !(x.row instanceof DomainError),
        );
      if (kept.length === 0) return rows as DomainError[];
      await this.registrations.insertMembers(
        m,
        kept.flatMap((k) => k.input.memberIds.map((id): [string, string] => [k.row.id, id])),
      );
      const sagas = kept.map(({ input, row }) => registerSaga(input, row.id, leaseSeconds));
      const sagaIds = await this.sagas.insertMany(m, sagas);
      // each request's Idempotency-Key points at its own saga
      await this.keys.attachSagas(
        m,
        sagas.map((s, i) => [s.idempotencyScope, sagaIds[i]]),
      );
      await this.rows.linkPending(
        m,
        kept.map((k, i) => [k.row.id, sagaIds[i]]),
      );
      let next = 0;
      return rows.map((row, i) => {
        if (row instanceof DomainError) return row;
        const sagaId = sagaIds[next++];
        return { input: inputs[i], registrationId: row.id, sagaId, createdAt: row.createdAt };
      });
    });
  }

  /**
   * Step 3, one transaction: the registrations granted a seat become confirmed; those without
   * room join their target's waitlist in order (each given the next place of the queue under
   * its lock, and its exact position), as far as the waitlist is allowed and has room, or are
   * removed (CAPACITY_FULL). Every update is fenced on the registration's own saga: one
   * recovery took over is `lost` and left alone.
   */
  async settle(
    intents: Intent[],
    granted: boolean[],
    settings: DateSettings,
  ): Promise<Settlement[]> {
    return batchTransaction(this.db, async (m) => {
      const { held, now } = await this.rows.lockHeld(
        m,
        intents.map((i) => [i.registrationId, i.sagaId]),
      );
      const result: Settlement[] = intents.map(() => ({ outcome: 'lost' }));
      const confirmed: number[] = [];
      const noRoom: number[] = [];
      intents.forEach((intent, i) => {
        if (!held.has(intent.registrationId)) return;
        (granted[i] ? confirmed : noRoom).push(i);
      });

      if (confirmed.length > 0) {
        await this.rows.confirmHeld(
          m,
          confirmed.map((i) => intents[i].registrationId),
          now,
        );
        for (const i of confirmed) result[i] = { outcome: 'confirmed', at: now };
      }

      const wanting = noRoom.filter((i) => intents[i].input.joinWaitlist);
      const waiting = wanting.slice(0, await this.waitlist.room(m, settings, wanting.length));
      const waitingSet = new Set(waiting);
      const removed = noRoom.filter((i) => !waitingSet.has(i));
      if (waiting.length > 0) await this.joinQueues(m, intents, waiting, result, now);
      if (removed.length > 0) {
        await this.rows.deleteHeld(
          m,
          removed.map((i) => intents[i].registrationId),
        );
        for (const i of removed) result[i] = { outcome: 'full' };
      }

      await this.sagas.finishMany(
        m,
        intents.map((intent, i) => {
          const r = result[i];
          if (r.outcome === 'lost') return undefined;
          return r.outcome === 'full'
            ? { sagaId: intent.sagaId, state: 'failed', outcome: 'CAPACITY_FULL' }
            : { sagaId: intent.sagaId, state: 'done', outcome: r.outcome };
        }),
      );
      const recorded = historyOf(intents, result);
      await this.history.recordMany(m, recorded, now);
      // one message per registration, one statement per kind (in the order the kinds appear)
      for (const kind of new Set(recorded.map((r) => r.action))) {
        const ids = recorded.filter((r) => r.action === kind).map((r) => r.registrationId);
        await this.outbox.enqueueMany(m, ids, kind);
      }
      return result;
    });
  }

  /** A register batch whose public step failed before anything was taken: undo step 1. */
  async abandon(intents: Intent[], outcome: string): Promise<void> {
    const repos = { rows: this.rows, sagas: this.sagas };
    await abandonHeld(this.db, repos, intents, outcome, (m, ids) => this.rows.deleteHeld(m, ids));
  }

  // the waiting intents join their targets' queues: places and positions into `result`
  private async joinQueues(
    m: Queryable,
    intents: Intent[],
    waiting: number[],
    result: Settlement[],
    now: Date,
  ): Promise<void> {
    const places: [string, number][] = [];
    for (const members of groupBy(waiting, (i) => intents[i].input.target)) {
      const target = intents[members[0]].input.target;
      // the queue row lock first: whoever took places before us has committed, so the
      // count (read committed) sees every registration ahead of this batch
      const first = await this.waitlist.assignPlaces(
        m,
        target.eventDateId,
        target.eventSlotId,
        members.length,
      );
      const ahead = await this.waitlist.countOfTarget(m, target);
      members.forEach((i, k) => {
        places.push([intents[i].registrationId, first + k]);
        result[i] = { outcome: 'waitlisted', at: now, place: first + k, position: ahead + k + 1 };
      });
    }
    await this.rows.waitlistHeld(m, places, now);
  }
}

function registerSaga(
  input: NewRegistration,
  registrationId: string,
  leaseSeconds: number,
): NewSaga {
  return {
    registrationId,
    eventDateId: input.target.eventDateId,
    kind: 'register',
    state: 'taking',
    take: { ...input.target, spots: input.spots },
    release: null,
    plan: {
      eventHourId: input.target.eventHourId,
      eventSlotId: input.target.eventSlotId,
      partySize: input.partySize,
      spots: input.spots,
      joinWaitlist: input.joinWaitlist,
    },
    actor: input.actor,
    idempotencyScope: input.idempotencyScope,
    leaseSeconds,
  };
}

// what the history says of each registration the settle confirmed or waitlisted
function historyOf(intents: Intent[], result: Settlement[]): HistoryRecord[] {
  return intents.flatMap((intent, i) => {
    const r = result[i];
    if (r.outcome !== 'confirmed' && r.outcome !== 'waitlisted') return [];
    return [
      {
        registrationId: intent.registrationId,
        eventDateId: intent.input.target.eventDateId,
        actor: intent.input.actor,
        action: r.outcome,
        fromStatus: r.outcome === 'confirmed' ? 'pending' : null,
        toStatus: r.outcome,
        spots: intent.input.spots,
        eventSlotId: intent.input.target.eventSlotId,
      },
    ];
  });
}

function groupBy<T>(items: T[], target: (item: T) => CounterTarget): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const t = target(item);
    const k = `${t.eventDateId}/${t.eventSlotId ?? '-'}`;
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return [...groups.values()];
}
