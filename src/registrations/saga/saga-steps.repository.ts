import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { PRIVATE_DB } from '../../database/database.constants';
import { privateTransaction, Queryable } from '../../database/sql';
import { IdempotencyRepository } from '../../idempotency/idempotency.repository';
import { NotificationOutboxRepository } from '../../notifications/notification-outbox.repository';
import { RegistrationHistoryRepository } from '../registration-history.repository';
import { Claimed, RegistrationRepository } from '../registration.repository';
import { DateSettings, Registration, RegistrationStatus } from '../registration.types';
import { WaitlistRepository } from '../waitlist.repository';
import { SagaRepository } from './saga.repository';
import {
  Busy,
  Claim,
  HistoryEntry,
  Lost,
  NoRoom,
  Leg,
  NewSaga,
  OutboxMessage,
  SagaPlan,
  SagaRow,
} from './saga.types';

/** What a step needs of its saga: a row read back (recovery), or one a batch has just written. */
export type StepSaga = Pick<
  SagaRow,
  'id' | 'registrationId' | 'eventDateId' | 'kind' | 'take' | 'release' | 'plan' | 'actor'
>;

// The private half of each saga step: ONE private transaction, composed from the repositories
// of the tables it writes (registrations, sagas, history, outbox, settings, keys). The saga
// (registration.saga.ts) decides their order relative to the public counter updates; no
// EntityManager leaves this file.
@Injectable()
export class SagaStepsRepository {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly registrations: RegistrationRepository,
    private readonly sagas: SagaRepository,
    private readonly history: RegistrationHistoryRepository,
    private readonly outbox: NotificationOutboxRepository,
    private readonly waitlist: WaitlistRepository,
    private readonly keys: IdempotencyRepository,
  ) {}

  /**
   * A transaction whose fenced update may find the registration claimed elsewhere: then it is
   * rolled back and the answer is `otherwise` (busy, or lost).
   */
  private fenced<T, O>(work: (m: EntityManager) => Promise<T>, otherwise: O): Promise<T | O> {
    return privateTransaction(this.db, work).catch((error: unknown) => {
      if (error instanceof ClaimLost) return otherwise;
      throw error;
    });
  }

  /**
   * Step 1 of a change with a take leg, inside the caller's transaction: a `taking` saga claims
   * the registration. Busy when it is not in one of `allowed`, changed since `expectedVersion`
   * or another saga holds it; then nothing of this step stays written (a savepoint), so the
   * caller's other steps in the same transaction stand.
   */
  async beginOnExisting(
    m: Queryable,
    input: Omit<NewSaga, 'state'> & { expectedVersion?: number; allowed: RegistrationStatus[] },
  ): Promise<Claim> {
    await m.query('SAVEPOINT begin_on_existing');
    const sagaId = await this.insertSaga(m, { ...input, state: 'taking' });
    if (await this.registrations.claim(m, { ...input, sagaId })) {
      return { kind: 'claimed', sagaId };
    }
    await m.query('ROLLBACK TO SAVEPOINT begin_on_existing');
    return BUSY;
  }

  /**
   * The take leg succeeded: the registration becomes confirmed at the planned target. Fenced by
   * the saga id, so a saga that recovery has taken over cannot also finish here (lost).
   */
  async completeTake(
    saga: SagaRow,
    fromStatus: RegistrationStatus,
    history: Pick<HistoryEntry, 'action' | 'toStatus'>,
    outbox: OutboxMessage,
  ): Promise<Completed | Lost> {
    return privateTransaction(this.db, (m) =>
      this.completeTakeIn(m, saga, fromStatus, history, outbox),
    );
  }

  /**
   * completeTake inside the caller's transaction. The fenced update is the first write, so a
   * lost saga leaves nothing written and the caller's other steps stand.
   */
  async completeTakeIn(
    m: Queryable,
    saga: StepSaga,
    fromStatus: RegistrationStatus,
    history: Pick<HistoryEntry, 'action' | 'toStatus'>,
    outbox: OutboxMessage,
  ): Promise<Completed | Lost> {
    if (!(await this.registrations.confirm(m, claimOf(saga), saga.plan))) return LOST;
    if (saga.plan.memberIds) {
      await this.registrations.replaceMembers(m, saga.registrationId, saga.plan.memberIds);
    }
    const entry: HistoryEntry = {
      ...history,
      fromStatus,
      spots: saga.plan.spots,
      eventSlotId: saga.plan.eventSlotId,
      cause: saga.plan.cause ?? null,
    };
    await this.sagas.setState(m, saga.id, saga.release ? 'releasing' : 'done', 'confirmed');
    await this.history.record(m, saga, entry, fromStatus);
    await this.applyRequirements(m, saga, saga.plan, entry);
    await this.outbox.enqueue(m, saga.registrationId, outbox.kind);
    return COMPLETED;
  }

  /**
   * The take leg found no room. A new registration joins the waitlist when allowed (checked
   * here, under the settings row lock, so a waitlist limit holds under concurrency) or is
   * removed; an existing one is simply released unchanged. Returns the outcome.
   */
  async completeNoRoom(saga: SagaRow, settings: DateSettings): Promise<NoRoom> {
    return this.fenced(async (m) => {
      const claimed = claimOf(saga);
      if (saga.kind === 'register') {
        const mayWait =
          saga.plan.joinWaitlist !== false && (await this.waitlist.room(m, settings, 1)) > 0;
        if (mayWait) {
          const place = await this.waitlist.assignPlaces(
            m,
            saga.eventDateId,
            saga.plan.eventSlotId,
            1,
          );
          if (!(await this.registrations.waitlistPending(m, claimed, place))) throw new ClaimLost();
          await this.sagas.setState(m, saga.id, 'done', 'waitlisted');
          await this.history.record(
            m,
            saga,
            {
              action: 'waitlisted',
              fromStatus: null,
              toStatus: 'waitlisted',
              spots: saga.plan.spots,
              eventSlotId: saga.plan.eventSlotId,
            },
            null,
          );
          await this.outbox.enqueue(m, saga.registrationId, 'waitlisted');
          return { kind: 'waitlisted' as const };
        }
        if (!(await this.registrations.deletePending(m, claimed))) throw new ClaimLost();
        await this.sagas.setState(m, saga.id, 'failed', 'CAPACITY_FULL');
        return { kind: 'full' as const };
      }
      return this.completeNoRoomIn(m, saga);
    }, LOST);
  }

  /**
   * completeNoRoom of an existing registration (change, promote), inside the caller's
   * transaction: released unchanged, the saga failed CAPACITY_FULL. The fenced update is the
   * first write, so a lost saga leaves nothing written.
   */
  async completeNoRoomIn(m: Queryable, saga: StepSaga): Promise<typeof FULL | Lost> {
    if (!(await this.registrations.releaseClaim(m, claimOf(saga)))) return LOST;
    await this.sagas.setState(m, saga.id, 'failed', 'CAPACITY_FULL');
    return FULL;
  }

  /**
   * A change that needs no new seat (smaller party, waitlisted party change), inside the
   * caller's transaction; the spots it frees are recorded as a release leg still to give back.
   * Busy when the registration changed or a saga holds it: the fenced update is the first
   * write, so then nothing is written and the caller's other steps stand.
   */
  async applyWithoutTake(
    m: Queryable,
    input: {
      registration: Registration;
      plan: SagaPlan;
      release: Leg | null;
      actor: string;
      idempotencyScope?: string;
      leaseSeconds: number;
      history: HistoryEntry;
      outbox: OutboxMessage;
    },
  ): Promise<Claim> {
    const r = input.registration;
    if (!(await this.registrations.resize(m, r, input.plan))) return BUSY;
    if (input.plan.memberIds)
      await this.registrations.replaceMembers(m, r.id, input.plan.memberIds);
    const sagaId = await this.insertSaga(m, {
      registrationId: r.id,
      eventDateId: r.eventDateId,
      kind: 'change',
      state: input.release ? 'releasing' : 'done',
      take: null,
      release: input.release,
      plan: input.plan,
      actor: input.actor,
      idempotencyScope: input.idempotencyScope,
      leaseSeconds: input.leaseSeconds,
    });
    await this.history.record(m, at(r, input.actor), input.history, r.status);
    await this.applyRequirements(m, at(r, input.actor), input.plan, input.history);
    await this.outbox.enqueue(m, r.id, input.outbox.kind);
    return { kind: 'claimed', sagaId };
  }

  /** The take leg failed before anything was taken (e.g. schedule unreachable): undo step 1. */
  async abandon(saga: StepSaga, outcome: string): Promise<void> {
    await privateTransaction(this.db, async (m) => {
      if (saga.kind === 'register') await this.registrations.deletePending(m, claimOf(saga));
      else await this.registrations.releaseClaim(m, claimOf(saga));
      await this.sagas.setState(m, saga.id, 'failed', outcome);
    });
  }

  /**
   * Claims every unfinished saga of one date, provided all their leases have expired (a live
   * lease means a request, or another instance's recovery, is working there: the date is left
   * alone). Recovery settles a date as a whole because its counters are shared by all its sagas.
   */
  async claimStuckDate(
    leaseSeconds: number,
    exclude: number[],
  ): Promise<{ eventDateId: number; sagaIds: string[] } | undefined> {
    return privateTransaction(this.db, async (m) => {
      const stuck = await this.sagas.lockStuckDate(m, exclude);
      if (!stuck) return undefined;
      const { eventDateId, sagas } = stuck;
      if (sagas.some((saga) => !saga.expired)) return { eventDateId, sagaIds: [] };
      const sagaIds = sagas.map((saga) => saga.id);
      await this.sagas.renewLeases(m, sagaIds, leaseSeconds);
      return { eventDateId, sagaIds };
    });
  }

  /**
   * Recovery takes a `taking` saga over: a new saga row replaces it on the registration (and on
   * its idempotency key), so the original process, if it is somehow still running, can no longer
   * finish it (its fenced updates match nothing) and gives back whatever it took.
   */
  async supersede(sagaId: string, leaseSeconds: number): Promise<string | undefined> {
    return privateTransaction(this.db, async (m) => {
      const old = await this.sagas.lockTaking(m, sagaId);
      if (!old) return undefined;
      const newId = await this.sagas.copyAsTaking(m, sagaId, leaseSeconds);
      const moved = await this.registrations.moveClaim(m, old.registrationId, sagaId, newId);
      await this.sagas.setState(m, sagaId, 'failed', 'SUPERSEDED');
      if (!moved) {
        // the registration no longer waits on this saga: nothing left to finish
        await this.sagas.setState(m, newId, 'failed', 'ORPHANED');
        return undefined;
      }
      await this.keys.moveSaga(m, sagaId, newId);
      return newId;
    });
  }

  // a change that also carries special requirements applies them in its own transaction; the
  // history says that they changed, never what they say
  private async applyRequirements(
    m: Queryable,
    where: { registrationId: string; eventDateId: number; actor: string },
    plan: SagaPlan,
    change: HistoryEntry,
  ): Promise<void> {
    if (plan.specialRequirements === undefined) return;
    if (
      !(await this.registrations.setSpecialRequirements(
        m,
        where.registrationId,
        plan.specialRequirements,
      ))
    )
      return;
    await this.history.record(
      m,
      where,
      { ...change, action: 'requirements_changed', fromStatus: change.toStatus },
      change.toStatus,
    );
  }

  private async insertSaga(m: Queryable, saga: NewSaga): Promise<string> {
    const sagaId = await this.sagas.insert(m, saga);
    if (saga.idempotencyScope) await this.keys.attachSaga(m, saga.idempotencyScope, sagaId);
    return sagaId;
  }
}

class ClaimLost extends Error {}

const BUSY: Busy = { kind: 'busy' };
const LOST: Lost = { kind: 'lost' };
const FULL = { kind: 'full' } as const;
const COMPLETED = { kind: 'completed' } as const;
type Completed = typeof COMPLETED;

function claimOf(saga: Pick<SagaRow, 'id' | 'registrationId'>): Claimed {
  return { registrationId: saga.registrationId, sagaId: saga.id };
}

function at(r: Registration, actor: string) {
  return { registrationId: r.id, eventDateId: r.eventDateId, actor };
}
