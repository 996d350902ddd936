import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error';
import { PRIVATE_DB } from '../database/database.constants';
import { isDuplicateKey, translatePrivateError, withLockRetry } from '../database/db-errors';
import type { CounterTarget } from '../schedule/schedule.types';
import {
  CapacityUnit,
  DateSettings,
  DEFAULT_SETTINGS,
  Registration,
  RegistrationStatus,
} from './registration.types';

export type SagaKind = 'register' | 'promote' | 'change' | 'cancel';
export type SagaState = 'taking' | 'releasing' | 'done' | 'failed';

/** What the registration becomes once the take leg succeeds. */
export interface SagaPlan {
  eventHourId: number | null;
  eventSlotId: number | null;
  partySize: number;
  spots: number;
  memberIds?: string[];
  /** register only: may it join the waitlist when there is no room */
  joinWaitlist?: boolean;
  /**
   * A move within the date that keeps its spots: it takes only the counters it newly occupies
   * (the new slot, and the new hour if it differs) and gives back only those it leaves, so a
   * full hour or date does not refuse a move that leaves their totals unchanged.
   */
  netMove?: boolean;
}

/** What a new registration is made of (step 1 of the register saga). */
export interface NewRegistration {
  householdId: string;
  eventId: number;
  target: CounterTarget;
  partySize: number;
  spots: number;
  memberIds: string[];
  joinWaitlist: boolean;
  actor: string;
  idempotencyScope?: string;
}

export interface Leg extends CounterTarget {
  spots: number;
}

export interface SagaRow {
  id: string;
  registrationId: string;
  eventDateId: number;
  kind: SagaKind;
  state: SagaState;
  take: Leg | null;
  release: Leg | null;
  plan: SagaPlan;
  actor: string;
  idempotencyScope: string | null;
  outcome: string | null;
  leaseExpired: boolean;
}

export interface HistoryEntry {
  action: string;
  fromStatus: RegistrationStatus | null;
  toStatus: RegistrationStatus;
  spots: number;
  eventSlotId: number | null;
}

export interface OutboxMessage {
  kind: 'confirmed' | 'waitlisted' | 'promoted' | 'cancelled' | 'moved' | 'resized';
}

interface RawRegistration {
  id: string;
  household_id: string;
  event_id: number;
  event_date_id: number;
  event_hour_id: number | null;
  event_slot_id: number | null;
  status: RegistrationStatus;
  party_size: number;
  spots: number;
  queued_at: Date | null;
  pending_saga_id: string | null;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  confirmed_at: Date | null;
  cancelled_at: Date | null;
  checked_in_at: Date | null;
  member_ids: string | null;
  waitlist_position: number | string | null;
}

interface RawSaga {
  id: string;
  registration_id: string;
  event_date_id: number;
  kind: SagaKind;
  state: SagaState;
  take_slot_id: number | null;
  take_hour_id: number | null;
  take_spots: number;
  release_slot_id: number | null;
  release_hour_id: number | null;
  release_spots: number;
  plan: string;
  actor: string;
  idempotency_scope: string | null;
  outcome: string | null;
  lease_expired: number | string;
}

// A registration row with its members and its 1-based waitlist position: how many of its
// target's waitlisted registrations hold a place up to its own. Places are handed out in
// commit order under the target's queue row lock (assignQueuePlaces), so they are unique per
// target and a position told is the position read back until someone ahead leaves.
const SELECT_REGISTRATION = `
  SELECT r.*,
    (SELECT GROUP_CONCAT(m.member_id ORDER BY m.member_id) FROM event_registration_members m
      WHERE m.registration_id = r.id) AS member_ids,
    IF(r.status = 'waitlisted',
      (SELECT COUNT(*) FROM event_registrations w
        WHERE w.event_date_id = r.event_date_id AND w.event_slot_id <=> r.event_slot_id
          AND w.status = 'waitlisted' AND w.queue_place <= r.queue_place),
      NULL) AS waitlist_position
  FROM event_registrations r`;

export function toRegistration(row: RawRegistration): Registration {
  return {
    id: String(row.id),
    householdId: String(row.household_id),
    eventId: row.event_id,
    eventDateId: row.event_date_id,
    eventHourId: row.event_hour_id,
    eventSlotId: row.event_slot_id,
    status: row.status,
    partySize: row.party_size,
    spots: row.spots,
    queuedAt: row.queued_at,
    pendingSagaId: row.pending_saga_id === null ? null : String(row.pending_saga_id),
    version: row.version,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    confirmedAt: row.confirmed_at,
    cancelledAt: row.cancelled_at,
    checkedInAt: row.checked_in_at,
    memberIds: row.member_ids ? row.member_ids.split(',') : [],
    waitlistPosition: row.waitlist_position === null ? null : Number(row.waitlist_position),
  };
}

function toSaga(row: RawSaga): SagaRow {
  const leg = (slot: number | null, hour: number | null, spots: number): Leg | null =>
    spots === 0
      ? null
      : { eventDateId: row.event_date_id, eventHourId: hour, eventSlotId: slot, spots };
  return {
    id: String(row.id),
    registrationId: String(row.registration_id),
    eventDateId: row.event_date_id,
    kind: row.kind,
    state: row.state,
    take: leg(row.take_slot_id, row.take_hour_id, row.take_spots),
    release: leg(row.release_slot_id, row.release_hour_id, row.release_spots),
    plan: JSON.parse(row.plan) as SagaPlan,
    actor: row.actor,
    idempotencyScope: row.idempotency_scope,
    outcome: row.outcome,
    leaseExpired: Number(row.lease_expired) === 1,
  };
}

function affected(result: unknown): number {
  const r = result as { affectedRows?: number } | [unknown, number] | undefined;
  if (Array.isArray(r)) return Number(r[1] ?? 0);
  return r?.affectedRows ?? 0;
}

// The private side of the registration saga. Every method is one private transaction; the
// saga (registration.saga.ts) decides their order relative to the public counter updates.
@Injectable()
export class RegistrationRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  private tx<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return translatePrivateError(() => withLockRetry(() => this.db.transaction(work)));
  }

  /** A transaction whose fenced update may find the registration claimed elsewhere: then `lost`. */
  private fenced<T, L>(work: (m: EntityManager) => Promise<T>, lost: L): Promise<T | L> {
    return this.tx(work).catch((error: unknown) => {
      if (error instanceof ClaimLost) return lost;
      throw error;
    });
  }

  // ---- saga steps ---------------------------------------------------------------------------

  /** Step 1 of a registration: the pending row, its members and the saga, in one transaction. */
  async beginRegister(
    input: NewRegistration & { leaseSeconds: number },
  ): Promise<{ registrationId: string; sagaId: string }> {
    try {
      return await this.tx(async (m) => {
        const inserted = await m.query<unknown>(
          `INSERT INTO event_registrations (household_id, event_id, event_date_id, event_hour_id,
             event_slot_id, status, party_size, spots, created_by)
           VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
          [
            input.householdId,
            input.eventId,
            input.target.eventDateId,
            input.target.eventHourId,
            input.target.eventSlotId,
            input.partySize,
            input.spots,
            input.actor,
          ],
        );
        const registrationId = String((inserted as { insertId: number | string }).insertId);
        await this.insertMembers(m, registrationId, input.memberIds);
        const plan: SagaPlan = {
          eventHourId: input.target.eventHourId,
          eventSlotId: input.target.eventSlotId,
          partySize: input.partySize,
          spots: input.spots,
          joinWaitlist: input.joinWaitlist,
        };
        const sagaId = await this.insertSaga(m, {
          registrationId,
          eventDateId: input.target.eventDateId,
          kind: 'register',
          state: 'taking',
          take: { ...input.target, spots: input.spots },
          release: null,
          plan,
          actor: input.actor,
          idempotencyScope: input.idempotencyScope,
          leaseSeconds: input.leaseSeconds,
        });
        await m.query('UPDATE event_registrations SET pending_saga_id = ? WHERE id = ?', [
          sagaId,
          registrationId,
        ]);
        return { registrationId, sagaId };
      });
    } catch (error) {
      if (isDuplicateKey(error, 'uq_registrations_household_active_date')) {
        throw new DomainError(
          'ALREADY_REGISTERED',
          'This household already has an active registration for this event date',
        );
      }
      throw error;
    }
  }

  /**
   * Step 1 of an operation on an existing registration (promote, change): claims it for a new
   * saga. Undefined when it is not in one of `allowed` or another saga holds it.
   */
  async beginOnExisting(input: {
    registrationId: string;
    expectedVersion?: number;
    allowed: RegistrationStatus[];
    kind: SagaKind;
    eventDateId: number;
    take: Leg | null;
    release: Leg | null;
    plan: SagaPlan;
    actor: string;
    idempotencyScope?: string;
    leaseSeconds: number;
  }): Promise<string | undefined> {
    return this.fenced(async (m) => {
      const sagaId = await this.insertSaga(m, {
        ...input,
        state: input.take ? 'taking' : 'releasing',
      });
      const claimed = await m.query<unknown>(
        `UPDATE event_registrations SET pending_saga_id = ?, version = version + 1
          WHERE id = ? AND pending_saga_id IS NULL AND status IN (?)
            ${input.expectedVersion === undefined ? '' : 'AND version = ?'}`,
        input.expectedVersion === undefined
          ? [sagaId, input.registrationId, input.allowed]
          : [sagaId, input.registrationId, input.allowed, input.expectedVersion],
      );
      if (affected(claimed) !== 1) {
        throw new ClaimLost();
      }
      return sagaId;
    }, undefined);
  }

  /**
   * The take leg succeeded: the registration becomes confirmed at the planned target. Fenced by
   * the saga id, so a saga that recovery has taken over cannot also finish here (false).
   */
  async completeTake(
    saga: SagaRow,
    fromStatus: RegistrationStatus,
    history: HistoryEntry,
    outbox: OutboxMessage,
  ): Promise<boolean> {
    return this.fenced(async (m) => {
      const plan = saga.plan;
      const updated = await m.query<unknown>(
        `UPDATE event_registrations
            SET status = 'confirmed', event_hour_id = ?, event_slot_id = ?, spots = ?, party_size = ?,
                confirmed_at = COALESCE(confirmed_at, NOW(6)), queued_at = NULL, queue_place = NULL,
                pending_saga_id = NULL, version = version + 1
          WHERE id = ? AND pending_saga_id = ?`,
        [
          plan.eventHourId,
          plan.eventSlotId,
          plan.spots,
          plan.partySize,
          saga.registrationId,
          saga.id,
        ],
      );
      if (affected(updated) !== 1) throw new ClaimLost();
      if (plan.memberIds) await this.replaceMembers(m, saga.registrationId, plan.memberIds);
      await this.setSagaState(m, saga.id, saga.release ? 'releasing' : 'done', 'confirmed');
      await this.record(m, saga.registrationId, saga.eventDateId, saga.actor, history, fromStatus);
      await this.enqueue(m, saga.registrationId, outbox);
      return true;
    }, false);
  }

  /**
   * The take leg found no room. A new registration joins the waitlist when allowed (checked
   * here, under the settings row lock, so a waitlist limit holds under concurrency) or is
   * removed; an existing one is simply released unchanged. Returns the outcome.
   */
  async completeNoRoom(
    saga: SagaRow,
    settings: DateSettings,
  ): Promise<'waitlisted' | 'full' | 'lost'> {
    return this.fenced(async (m) => {
      if (saga.kind === 'register') {
        const mayWait =
          saga.plan.joinWaitlist !== false && (await this.waitlistHasRoom(m, settings));
        if (mayWait) {
          const updated = await m.query<unknown>(
            `UPDATE event_registrations SET status = 'waitlisted', queued_at = created_at,
                    queue_place = ?, pending_saga_id = NULL, version = version + 1
              WHERE id = ? AND pending_saga_id = ?`,
            [
              await assignQueuePlaces(m, saga.eventDateId, saga.plan.eventSlotId, 1),
              saga.registrationId,
              saga.id,
            ],
          );
          if (affected(updated) !== 1) throw new ClaimLost();
          await this.setSagaState(m, saga.id, 'done', 'waitlisted');
          await this.record(
            m,
            saga.registrationId,
            saga.eventDateId,
            saga.actor,
            {
              action: 'waitlisted',
              fromStatus: null,
              toStatus: 'waitlisted',
              spots: saga.plan.spots,
              eventSlotId: saga.plan.eventSlotId,
            },
            null,
          );
          await this.enqueue(m, saga.registrationId, { kind: 'waitlisted' });
          return 'waitlisted' as const;
        }
        const removed = await m.query<unknown>(
          'DELETE FROM event_registrations WHERE id = ? AND pending_saga_id = ?',
          [saga.registrationId, saga.id],
        );
        if (affected(removed) !== 1) throw new ClaimLost();
        await m.query('DELETE FROM event_registration_members WHERE registration_id = ?', [
          saga.registrationId,
        ]);
        await this.setSagaState(m, saga.id, 'failed', 'CAPACITY_FULL');
        return 'full' as const;
      }
      const released = await m.query<unknown>(
        'UPDATE event_registrations SET pending_saga_id = NULL WHERE id = ? AND pending_saga_id = ?',
        [saga.registrationId, saga.id],
      );
      if (affected(released) !== 1) throw new ClaimLost();
      await this.setSagaState(m, saga.id, 'failed', 'CAPACITY_FULL');
      return 'full' as const;
    }, 'lost' as const);
  }

  /**
   * A change that needs no new seat (smaller party, waitlisted party change): applied in one
   * transaction; the spots it frees are recorded as a release leg still to give back.
   */
  async applyWithoutTake(input: {
    registration: Registration;
    plan: SagaPlan;
    release: Leg | null;
    actor: string;
    idempotencyScope?: string;
    leaseSeconds: number;
    history: HistoryEntry;
    outbox: OutboxMessage;
  }): Promise<string | undefined> {
    return this.fenced(async (m) => {
      const r = input.registration;
      const updated = await m.query<unknown>(
        `UPDATE event_registrations SET spots = ?, party_size = ?, version = version + 1
          WHERE id = ? AND pending_saga_id IS NULL AND version = ?`,
        [input.plan.spots, input.plan.partySize, r.id, r.version],
      );
      if (affected(updated) !== 1) throw new ClaimLost();
      if (input.plan.memberIds) await this.replaceMembers(m, r.id, input.plan.memberIds);
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
      await this.record(m, r.id, r.eventDateId, input.actor, input.history, r.status);
      await this.enqueue(m, r.id, input.outbox);
      return sagaId;
    }, undefined);
  }

  /**
   * Cancels: the registration is final at once, and a release saga records the spots still to
   * give back (none for a waitlisted one). Undefined when another saga holds the registration.
   */
  async beginCancel(
    registration: Registration,
    actor: string,
    idempotencyScope: string | undefined,
    leaseSeconds: number,
  ): Promise<string | undefined> {
    return this.fenced(async (m) => {
      const r = registration;
      const holds = r.status === 'confirmed';
      const updated = await m.query<unknown>(
        `UPDATE event_registrations SET status = 'cancelled', cancelled_at = NOW(6), version = version + 1
          WHERE id = ? AND pending_saga_id IS NULL AND status IN ('confirmed', 'waitlisted') AND version = ?`,
        [r.id, r.version],
      );
      if (affected(updated) !== 1) throw new ClaimLost();
      const sagaId = await this.insertSaga(m, {
        registrationId: r.id,
        eventDateId: r.eventDateId,
        kind: 'cancel',
        state: holds ? 'releasing' : 'done',
        take: null,
        release: holds ? { ...r, spots: r.spots } : null,
        plan: {
          eventHourId: r.eventHourId,
          eventSlotId: r.eventSlotId,
          partySize: r.partySize,
          spots: r.spots,
        },
        actor,
        idempotencyScope,
        leaseSeconds,
      });
      await this.record(
        m,
        r.id,
        r.eventDateId,
        actor,
        {
          action: 'cancelled',
          fromStatus: r.status,
          toStatus: 'cancelled',
          spots: r.spots,
          eventSlotId: r.eventSlotId,
        },
        r.status,
      );
      await this.enqueue(m, r.id, { kind: 'cancelled' });
      return sagaId;
    }, undefined);
  }

  /** The release leg was given back: the saga is over. */
  async finishRelease(sagaId: string): Promise<void> {
    await translatePrivateError(() =>
      this.db.query(
        "UPDATE registration_sagas SET state = 'done' WHERE id = ? AND state = 'releasing'",
        [sagaId],
      ),
    );
  }

  /** The take leg failed before anything was taken (e.g. schedule unreachable): undo step 1. */
  async abandon(saga: SagaRow, outcome: string): Promise<void> {
    await this.tx(async (m) => {
      if (saga.kind === 'register') {
        const removed = await m.query<unknown>(
          'DELETE FROM event_registrations WHERE id = ? AND pending_saga_id = ?',
          [saga.registrationId, saga.id],
        );
        if (affected(removed) === 1) {
          await m.query('DELETE FROM event_registration_members WHERE registration_id = ?', [
            saga.registrationId,
          ]);
        }
      } else {
        await m.query(
          'UPDATE event_registrations SET pending_saga_id = NULL WHERE id = ? AND pending_saga_id = ?',
          [saga.registrationId, saga.id],
        );
      }
      await this.setSagaState(m, saga.id, 'failed', outcome);
    });
  }

  // ---- reads --------------------------------------------------------------------------------

  async findSaga(id: string): Promise<SagaRow | undefined> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawSaga[]>(
        'SELECT s.*, (s.lease_until < NOW(6)) AS lease_expired FROM registration_sagas s WHERE s.id = ?',
        [id],
      ),
    );
    return rows[0] ? toSaga(rows[0]) : undefined;
  }

  async findById(id: string): Promise<Registration | undefined> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawRegistration[]>(`${SELECT_REGISTRATION} WHERE r.id = ?`, [id]),
    );
    return rows[0] ? toRegistration(rows[0]) : undefined;
  }

  async listForHousehold(
    householdId: string,
    status: RegistrationStatus | undefined,
    offset: number,
    limit: number,
  ): Promise<{ items: Registration[]; total: number }> {
    return translatePrivateError(async () => {
      const where = `r.household_id = ? AND r.status <> 'failed' ${status ? 'AND r.status = ?' : ''}`;
      const params: unknown[] = status ? [householdId, status] : [householdId];
      const rows = await this.db.query<RawRegistration[]>(
        `${SELECT_REGISTRATION} WHERE ${where} ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?`,
        [...params, limit, offset],
      );
      const [{ total }] = await this.db.query<{ total: string }[]>(
        `SELECT COUNT(*) AS total FROM event_registrations r WHERE ${where}`,
        params,
      );
      return { items: rows.map(toRegistration), total: Number(total) };
    });
  }

  /** The targets of a date where someone waits, oldest queue head first. */
  async waitlistTargets(eventDateId: number): Promise<CounterTarget[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<{ event_hour_id: number | null; event_slot_id: number | null }[]>(
        `SELECT event_hour_id, event_slot_id, MIN(queued_at) AS head FROM event_registrations
          WHERE event_date_id = ? AND status = 'waitlisted'
          GROUP BY event_hour_id, event_slot_id ORDER BY head`,
        [eventDateId],
      ),
    );
    return rows.map((r) => ({
      eventDateId,
      eventHourId: r.event_hour_id,
      eventSlotId: r.event_slot_id,
    }));
  }

  /** Someone waits on this target (slot, or the date when it has no slots). */
  async hasWaitlist(eventDateId: number, eventSlotId: number | null): Promise<boolean> {
    const rows = await translatePrivateError(() =>
      this.db.query<unknown[]>(
        `SELECT 1 FROM event_registrations
          WHERE event_date_id = ? AND event_slot_id <=> ? AND status = 'waitlisted' LIMIT 1`,
        [eventDateId, eventSlotId],
      ),
    );
    return rows.length > 0;
  }

  /** Waitlisted registrations of a target that no saga holds, in promotion order. */
  async waitlistCandidates(
    eventDateId: number,
    eventSlotId: number | null,
    limit: number,
  ): Promise<{ id: string; spots: number }[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<{ id: string; spots: number }[]>(
        `SELECT id, spots FROM event_registrations
          WHERE event_date_id = ? AND event_slot_id <=> ? AND status = 'waitlisted' AND pending_saga_id IS NULL
          ORDER BY queue_place LIMIT ?`,
        [eventDateId, eventSlotId, limit],
      ),
    );
    return rows.map((r) => ({ id: String(r.id), spots: r.spots }));
  }

  /**
   * Every waitlisted registration of a target with its position (for position-change events):
   * one pass with ROW_NUMBER, not a COUNT per row, since a long queue is exactly when it runs.
   */
  async waitlist(eventDateId: number, eventSlotId: number | null): Promise<Registration[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawRegistration[]>(
        `SELECT r.*, NULL AS member_ids, ROW_NUMBER() OVER (ORDER BY r.queue_place) AS waitlist_position
           FROM event_registrations r
          WHERE r.event_date_id = ? AND r.event_slot_id <=> ? AND r.status = 'waitlisted'
          ORDER BY r.queue_place`,
        [eventDateId, eventSlotId],
      ),
    );
    return rows.map(toRegistration);
  }

  async settings(eventDateId: number): Promise<DateSettings> {
    const rows = await translatePrivateError(() =>
      this.db.query<
        { waitlist_enabled: number; waitlist_limit: number | null; capacity_unit: CapacityUnit }[]
      >(
        'SELECT waitlist_enabled, waitlist_limit, capacity_unit FROM event_date_settings WHERE event_date_id = ?',
        [eventDateId],
      ),
    );
    const row = rows[0];
    if (!row) return { eventDateId, ...DEFAULT_SETTINGS };
    return {
      eventDateId,
      waitlistEnabled: Number(row.waitlist_enabled) === 1,
      waitlistLimit: row.waitlist_limit,
      capacityUnit: row.capacity_unit,
    };
  }

  // ---- staff tools (src/admin) ---------------------------------------------------------------

  /** A date's registrations for staff (internal 'failed' rows excluded), oldest first. */
  async listForDate(
    eventDateId: number,
    filter: { status?: RegistrationStatus; eventSlotId?: number },
    offset: number,
    limit: number,
  ): Promise<{ items: Registration[]; total: number }> {
    return translatePrivateError(async () => {
      const where = `r.event_date_id = ? AND r.status <> 'failed'
        ${filter.status ? 'AND r.status = ?' : ''} ${filter.eventSlotId === undefined ? '' : 'AND r.event_slot_id = ?'}`;
      const params: unknown[] = [eventDateId];
      if (filter.status) params.push(filter.status);
      if (filter.eventSlotId !== undefined) params.push(filter.eventSlotId);
      const rows = await this.db.query<RawRegistration[]>(
        `${SELECT_REGISTRATION} WHERE ${where} ORDER BY r.id LIMIT ? OFFSET ?`,
        [...params, limit, offset],
      );
      const [{ total }] = await this.db.query<{ total: string }[]>(
        `SELECT COUNT(*) AS total FROM event_registrations r WHERE ${where}`,
        params,
      );
      return { items: rows.map(toRegistration), total: Number(total) };
    });
  }

  /** Every waitlisted registration of a date, each queue in promotion order. */
  async waitlistOfDate(eventDateId: number): Promise<Registration[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawRegistration[]>(
        `${SELECT_REGISTRATION} WHERE r.event_date_id = ? AND r.status = 'waitlisted'
          ORDER BY r.event_slot_id, r.queue_place`,
        [eventDateId],
      ),
    );
    return rows.map(toRegistration);
  }

  /**
   * Check-in: a confirmed registration no saga holds becomes checked_in, with its members and
   * history, in one transaction. Spots stay held, so no counter moves. False when the
   * registration is not (or no longer) confirmed, or a saga holds it.
   */
  async checkIn(input: {
    registration: Registration;
    memberIds: string[];
    checkedInAt: Date;
    actor: string;
  }): Promise<boolean> {
    return this.fenced(async (m) => {
      const r = input.registration;
      const updated: unknown = await m.query(
        `UPDATE event_registrations SET status = 'checked_in', checked_in_at = ?, version = version + 1
          WHERE id = ? AND status = 'confirmed' AND pending_saga_id IS NULL`,
        [input.checkedInAt, r.id],
      );
      if (affected(updated) !== 1) throw new ClaimLost();
      await m.query(
        'UPDATE event_registration_members SET checked_in = 1 WHERE registration_id = ? AND member_id IN (?)',
        [r.id, input.memberIds],
      );
      await this.record(
        m,
        r.id,
        r.eventDateId,
        input.actor,
        {
          action: 'checked_in',
          fromStatus: 'confirmed',
          toStatus: 'checked_in',
          spots: r.spots,
          eventSlotId: r.eventSlotId,
        },
        'confirmed',
      );
      return true;
    }, false);
  }

  /**
   * Removes a cancelled registration with its members and history (an all-or-nothing bulk
   * registration being undone). Only once every saga of it has finished, so recovery never
   * looks for it; its saga rows stay as the record of the counter moves. Its notifications go
   * too unless one was already sent or is being sent: then all stay, so the household also
   * hears of the cancel. False when it is not in that state.
   */
  async purgeCancelled(registrationId: string): Promise<boolean> {
    return this.tx(async (m) => {
      const [row] = await m.query<{ id: string }[]>(
        `SELECT r.id FROM event_registrations r
          WHERE r.id = ? AND r.status = 'cancelled' AND r.pending_saga_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM registration_sagas s
                             WHERE s.registration_id = r.id AND s.state IN ('taking', 'releasing'))
          FOR UPDATE`,
        [registrationId],
      );
      if (!row) return false;
      const outbox = await m.query<{ id: string; touched: number | string }[]>(
        `SELECT id, (sent_at IS NOT NULL OR attempts > 0 OR available_at > NOW(6)) AS touched
           FROM notification_outbox WHERE registration_id = ? FOR UPDATE`,
        [registrationId],
      );
      if (!outbox.some((o) => Number(o.touched) === 1)) {
        await m.query('DELETE FROM notification_outbox WHERE registration_id = ?', [
          registrationId,
        ]);
      }
      await m.query('DELETE FROM registration_history WHERE registration_id = ?', [registrationId]);
      await m.query('DELETE FROM event_registration_members WHERE registration_id = ?', [
        registrationId,
      ]);
      await m.query('DELETE FROM event_registrations WHERE id = ?', [registrationId]);
      return true;
    });
  }

  // ---- pieces -------------------------------------------------------------------------------

  private async waitlistHasRoom(m: EntityManager, settings: DateSettings): Promise<boolean> {
    if (!settings.waitlistEnabled) return false;
    if (settings.waitlistLimit === null) return true;
    // the limit counts every waitlisted registration of the date; the settings row lock
    // serialises concurrent joiners so the limit cannot be overshot
    await m.query('INSERT IGNORE INTO event_date_settings (event_date_id) VALUES (?)', [
      settings.eventDateId,
    ]);
    const [lock] = await m.query<{ waitlist_enabled: number; waitlist_limit: number | null }[]>(
      'SELECT waitlist_enabled, waitlist_limit FROM event_date_settings WHERE event_date_id = ? FOR UPDATE',
      [settings.eventDateId],
    );
    if (Number(lock.waitlist_enabled) !== 1) return false;
    if (lock.waitlist_limit === null) return true;
    const [{ n }] = await m.query<{ n: string }[]>(
      "SELECT COUNT(*) AS n FROM event_registrations WHERE event_date_id = ? AND status = 'waitlisted'",
      [settings.eventDateId],
    );
    return Number(n) < lock.waitlist_limit;
  }

  private async insertMembers(
    m: EntityManager,
    registrationId: string,
    memberIds: string[],
  ): Promise<void> {
    if (memberIds.length === 0) return;
    await m.query('INSERT INTO event_registration_members (registration_id, member_id) VALUES ?', [
      memberIds.map((id) => [registrationId, id]),
    ]);
  }

  private async replaceMembers(
    m: EntityManager,
    registrationId: string,
    memberIds: string[],
  ): Promise<void> {
    await m.query('DELETE FROM event_registration_members WHERE registration_id = ?', [
      registrationId,
    ]);
    await this.insertMembers(m, registrationId, memberIds);
  }

  private async insertSaga(
    m: EntityManager,
    s: {
      registrationId: string;
      eventDateId: number;
      kind: SagaKind;
      state: SagaState;
      take: Leg | null;
      release: Leg | null;
      plan: SagaPlan;
      actor: string;
      idempotencyScope?: string;
      leaseSeconds: number;
    },
  ): Promise<string> {
    const result = await m.query<unknown>(
      `INSERT INTO registration_sagas (registration_id, event_date_id, kind, state, take_slot_id, take_hour_id,
         take_spots, release_slot_id, release_hour_id, release_spots, plan, actor, idempotency_scope, lease_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6) + INTERVAL ? SECOND)`,
      [
        s.registrationId,
        s.eventDateId,
        s.kind,
        s.state,
        s.take?.eventSlotId ?? null,
        s.take?.eventHourId ?? null,
        s.take?.spots ?? 0,
        s.release?.eventSlotId ?? null,
        s.release?.eventHourId ?? null,
        s.release?.spots ?? 0,
        JSON.stringify(s.plan),
        s.actor,
        s.idempotencyScope ?? null,
        s.leaseSeconds,
      ],
    );
    const sagaId = String((result as { insertId: number | string }).insertId);
    if (s.idempotencyScope) {
      await m.query('UPDATE idempotency_keys SET saga_id = ? WHERE scope_hash = ?', [
        sagaId,
        s.idempotencyScope,
      ]);
    }
    return sagaId;
  }

  private async setSagaState(
    m: EntityManager,
    sagaId: string,
    state: SagaState,
    outcome: string,
  ): Promise<void> {
    await m.query('UPDATE registration_sagas SET state = ?, outcome = ? WHERE id = ?', [
      state,
      outcome,
      sagaId,
    ]);
  }

  private async record(
    m: EntityManager,
    registrationId: string,
    eventDateId: number,
    actor: string,
    entry: HistoryEntry,
    fromStatus: RegistrationStatus | null,
  ): Promise<void> {
    await m.query(
      `INSERT INTO registration_history (registration_id, event_date_id, at, actor, action, from_status, to_status,
         spots, event_slot_id) VALUES (?, ?, NOW(6), ?, ?, ?, ?, ?, ?)`,
      [
        registrationId,
        eventDateId,
        actor,
        entry.action,
        entry.fromStatus ?? fromStatus,
        entry.toStatus,
        entry.spots,
        entry.eventSlotId,
      ],
    );
  }

  private async enqueue(
    m: EntityManager,
    registrationId: string,
    message: OutboxMessage,
  ): Promise<void> {
    // the payload is assembled from the committed row itself, in the same transaction
    await m.query(
      `INSERT INTO notification_outbox (household_id, registration_id, kind, payload)
       SELECT r.household_id, r.id, ?, JSON_OBJECT('registrationId', CAST(r.id AS CHAR),
         'householdId', CAST(r.household_id AS CHAR), 'kind', ?, 'status', r.status,
         'eventDateId', r.event_date_id, 'eventSlotId', r.event_slot_id, 'spots', r.spots,
         'at', DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ'))
         FROM event_registrations r WHERE r.id = ?`,
      [message.kind, message.kind, registrationId],
    );
  }
}

class ClaimLost extends Error {}

/**
 * Hands out the next `n` waitlist places of a target (its slot, or the date booked as a whole)
 * and returns the first. The upsert takes the target's queue row lock, held to the commit of
 * the calling transaction, so places follow commit order and are never handed out twice.
 */
export async function assignQueuePlaces(
  m: EntityManager,
  eventDateId: number,
  eventSlotId: number | null,
  n: number,
): Promise<number> {
  await m.query(
    `INSERT INTO waitlist_queues (event_date_id, slot_key, last_place) VALUES (?, ?, ?)
     ON DUPLICATE KEY UPDATE last_place = last_place + VALUES(last_place)`,
    [eventDateId, eventSlotId ?? 0, n],
  );
  const [row] = await m.query<{ last_place: string | number }[]>(
    'SELECT last_place FROM waitlist_queues WHERE event_date_id = ? AND slot_key = ?',
    [eventDateId, eventSlotId ?? 0],
  );
  return Number(row.last_place) - n + 1;
}
