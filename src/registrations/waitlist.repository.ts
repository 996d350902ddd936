import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';
import type { Queryable } from '../database/sql';
import type { CounterTarget } from '../schedule/schedule.types';
import { DateSettingsRepository } from './date-settings.repository';
import { RawRegistration, SELECT_REGISTRATION, toRegistration } from './registration.row';
import { DateSettings, Registration } from './registration.types';

// The waitlist: the waitlisted rows of event_registrations, queued per target (slot, or the date
// when it has no slots) by their place (queue_place), and the per-target sequence of places
// (waitlist_queues).
@Injectable()
export class WaitlistRepository {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly settings: DateSettingsRepository,
  ) {}

  /** The targets of a date where someone waits, oldest queue head first. */
  async targets(eventDateId: number): Promise<CounterTarget[]> {
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

  /** The targets among these (slot ids; null: the date booked as a whole) where someone waits. */
  async waitingTargets(
    eventDateId: number,
    slotIds: (number | null)[],
  ): Promise<Set<number | null>> {
    const slots = slotIds.filter((s): s is number => s !== null);
    const where = [
      ...(slots.length > 0 ? ['event_slot_id IN (?)'] : []),
      ...(slotIds.includes(null) ? ['event_slot_id IS NULL'] : []),
    ];
    if (where.length === 0) return new Set();
    const rows = await translatePrivateError(() =>
      this.db.query<{ slot: number | null }[]>(
        `SELECT DISTINCT event_slot_id AS slot FROM event_registrations
          WHERE event_date_id = ? AND status = 'waitlisted' AND (${where.join(' OR ')})`,
        slots.length > 0 ? [eventDateId, slots] : [eventDateId],
      ),
    );
    return new Set(rows.map((r) => (r.slot === null ? null : Number(r.slot))));
  }

  /** Waitlisted registrations of a target that no saga holds, in promotion order. */
  async candidates(
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
  async ofTarget(eventDateId: number, eventSlotId: number | null): Promise<Registration[]> {
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

  /** Every waitlisted registration of a date, each queue in promotion order. */
  async ofDate(eventDateId: number): Promise<Registration[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawRegistration[]>(
        `${SELECT_REGISTRATION} WHERE r.event_date_id = ? AND r.status = 'waitlisted'
          ORDER BY r.event_slot_id, r.queue_place`,
        [eventDateId],
      ),
    );
    return rows.map(toRegistration);
  }

  /** Dates with someone waiting that no saga is busy with (for the promotion sweep). */
  async datesWithWaitlist(limit: number): Promise<number[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<{ id: number }[]>(
        `SELECT DISTINCT event_date_id AS id FROM event_registrations
          WHERE status = 'waitlisted' AND pending_saga_id IS NULL LIMIT ?`,
        [limit],
      ),
    );
    return rows.map((r) => Number(r.id));
  }

  /**
   * Hands out the next `n` waitlist places of a target (its slot, or the date booked as a
   * whole) and returns the first. The upsert takes the target's queue row lock, held to the
   * commit of the caller's transaction, so places follow commit order and are never handed out
   * twice.
   */
  async assignPlaces(
    m: Queryable,
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

  /** How many wait on one target, inside the caller's transaction. */
  async countOfTarget(m: Queryable, target: CounterTarget): Promise<number> {
    const [{ n }] = await m.query<{ n: string }[]>(
      `SELECT COUNT(*) AS n FROM event_registrations
        WHERE event_date_id = ? AND event_slot_id <=> ? AND status = 'waitlisted'`,
      [target.eventDateId, target.eventSlotId],
    );
    return Number(n);
  }

  /**
   * The date's waitlisted registrations, row-locked in the caller's transaction: found by a
   * plain read, then locked by primary key (so only they are locked, not the date's index
   * range) and kept only if still waitlisted. `pendingSagaId` set: a saga holds it right now.
   */
  async lockOfDate(
    m: Queryable,
    eventDateId: number,
  ): Promise<
    {
      id: string;
      householdId: string;
      eventSlotId: number | null;
      spots: number;
      pendingSagaId: string | null;
    }[]
  > {
    const found = await m.query<{ id: string }[]>(
      "SELECT id FROM event_registrations WHERE event_date_id = ? AND status = 'waitlisted'",
      [eventDateId],
    );
    if (found.length === 0) return [];
    const rows = await m.query<
      {
        id: string;
        household_id: string;
        event_slot_id: number | null;
        spots: number;
        pending_saga_id: string | null;
        status: string;
      }[]
    >(
      `SELECT id, household_id, event_slot_id, spots, pending_saga_id, status
         FROM event_registrations WHERE id IN (?) ORDER BY id FOR UPDATE`,
      [found.map((r) => r.id)],
    );
    return rows
      .filter((r) => r.status === 'waitlisted')
      .map((r) => ({
        id: String(r.id),
        householdId: String(r.household_id),
        eventSlotId: r.event_slot_id,
        spots: r.spots,
        pendingSagaId: r.pending_saga_id === null ? null : String(r.pending_saga_id),
      }));
  }

  /**
   * How many of `wanted` may join the date's waitlist, inside the caller's transaction: all,
   * unless it is disabled or limited. The limit counts every waitlisted registration of the
   * date under the settings row lock, so concurrent joiners (another request, batch or
   * instance) cannot overshoot it.
   */
  async room(m: Queryable, settings: DateSettings, wanted: number): Promise<number> {
    if (wanted === 0 || !settings.waitlistEnabled) return 0;
    if (settings.waitlistLimit === null) return wanted;
    const locked = await this.settings.lock(m, settings.eventDateId);
    if (!locked.waitlistEnabled) return 0;
    if (locked.waitlistLimit === null) return wanted;
    const waiting = await this.countOfDate(m, settings.eventDateId);
    return Math.max(0, Math.min(wanted, locked.waitlistLimit - waiting));
  }

  /** How many wait on the date (every target), inside the caller's transaction. */
  async countOfDate(m: Queryable, eventDateId: number): Promise<number> {
    const [{ n }] = await m.query<{ n: string }[]>(
      "SELECT COUNT(*) AS n FROM event_registrations WHERE event_date_id = ? AND status = 'waitlisted'",
      [eventDateId],
    );
    return Number(n);
  }
}
