import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';
import { affectedRows, Queryable } from '../database/sql';
import { RawRegistration, SELECT_REGISTRATION, toRegistration } from './registration.row';
import { ACTIVE_STATUSES, Registration, RegistrationStatus } from './registration.types';
import type { SagaPlan } from './saga/saga.types';

/** A registration claimed by a saga: only that saga may finish it (the fence). */
export interface Claimed {
  registrationId: string;
  sagaId: string;
}

// The tables event_registrations and event_registration_members. Reads run on the DataSource;
// every write takes the transaction `m` its caller opened (a saga step, a staff action), so the
// caller decides what commits together. Writes fenced on pending_saga_id return false when the
// registration is no longer held by that saga.
@Injectable()
export class RegistrationRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  // ---- reads --------------------------------------------------------------------------------

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

  /** Spots held (confirmed, checked in) per slot and hour of a date. */
  async heldSpots(
    m: Queryable,
    eventDateId: number,
  ): Promise<{ eventSlotId: number | null; eventHourId: number | null; spots: number }[]> {
    const rows = await m.query<
      { event_slot_id: number | null; event_hour_id: number | null; spots: string }[]
    >(
      `SELECT event_slot_id, event_hour_id, SUM(spots) AS spots FROM event_registrations
        WHERE event_date_id = ? AND status IN ('confirmed', 'checked_in')
        GROUP BY event_slot_id, event_hour_id`,
      [eventDateId],
    );
    return rows.map((r) => ({
      eventSlotId: r.event_slot_id,
      eventHourId: r.event_hour_id,
      spots: Number(r.spots),
    }));
  }

  /** Dates that have registrations holding spots (for the backfill's sweep). */
  async datesWithHolders(): Promise<number[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<{ id: number }[]>(
        "SELECT DISTINCT event_date_id AS id FROM event_registrations WHERE status IN ('confirmed', 'checked_in')",
      ),
    );
    return rows.map((r) => Number(r.id));
  }

  /** Active registrations of a date, read with a shared lock (new ones wait for the commit). */
  async countActiveLocked(m: Queryable, eventDateId: number): Promise<number> {
    const [{ n }] = await m.query<{ n: string }[]>(
      'SELECT COUNT(*) AS n FROM event_registrations WHERE event_date_id = ? AND status IN (?) LOCK IN SHARE MODE',
      [eventDateId, ACTIVE_STATUSES],
    );
    return Number(n);
  }

  // ---- saga writes --------------------------------------------------------------------------

  /**
   * Claims a registration no saga holds, in one of `allowed` (and at `expectedVersion`). A claim
   * (and its release) is no change a client sees: `updated_at` stays, so a refused change leaves
   * the registration exactly as it was.
   */
  async claim(
    m: Queryable,
    input: Claimed & { allowed: RegistrationStatus[]; expectedVersion?: number },
  ): Promise<boolean> {
    const claimed = await m.query<unknown>(
      `UPDATE event_registrations
          SET pending_saga_id = ?, version = version + 1, updated_at = updated_at
        WHERE id = ? AND pending_saga_id IS NULL AND status IN (?)
          ${input.expectedVersion === undefined ? '' : 'AND version = ?'}`,
      input.expectedVersion === undefined
        ? [input.sagaId, input.registrationId, input.allowed]
        : [input.sagaId, input.registrationId, input.allowed, input.expectedVersion],
    );
    return affectedRows(claimed) === 1;
  }

  /** Recovery moves the claim from a saga to its successor. */
  async moveClaim(
    m: Queryable,
    registrationId: string,
    from: string,
    to: string,
  ): Promise<boolean> {
    const moved = await m.query<unknown>(
      'UPDATE event_registrations SET pending_saga_id = ?, updated_at = updated_at WHERE id = ? AND pending_saga_id = ?',
      [to, registrationId, from],
    );
    return affectedRows(moved) === 1;
  }

  /** The take succeeded: confirmed at the planned target, the claim released. */
  async confirm(m: Queryable, claimed: Claimed, plan: SagaPlan): Promise<boolean> {
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
        claimed.registrationId,
        claimed.sagaId,
      ],
    );
    return affectedRows(updated) === 1;
  }

  /** A pending registration joins the waitlist at `place` (WaitlistRepository.assignPlaces). */
  async waitlistPending(m: Queryable, claimed: Claimed, place: number): Promise<boolean> {
    const updated = await m.query<unknown>(
      `UPDATE event_registrations SET status = 'waitlisted', queued_at = created_at,
              queue_place = ?, pending_saga_id = NULL, version = version + 1
        WHERE id = ? AND pending_saga_id = ?`,
      [place, claimed.registrationId, claimed.sagaId],
    );
    return affectedRows(updated) === 1;
  }

  /** Removes a pending registration (and its members) still held by the saga. */
  async deletePending(m: Queryable, claimed: Claimed): Promise<boolean> {
    const removed = await m.query<unknown>(
      'DELETE FROM event_registrations WHERE id = ? AND pending_saga_id = ?',
      [claimed.registrationId, claimed.sagaId],
    );
    if (affectedRows(removed) !== 1) return false;
    await m.query('DELETE FROM event_registration_members WHERE registration_id = ?', [
      claimed.registrationId,
    ]);
    return true;
  }

  /** The saga gives the registration back unchanged. */
  async releaseClaim(m: Queryable, claimed: Claimed): Promise<boolean> {
    const released = await m.query<unknown>(
      'UPDATE event_registrations SET pending_saga_id = NULL, updated_at = updated_at WHERE id = ? AND pending_saga_id = ?',
      [claimed.registrationId, claimed.sagaId],
    );
    return affectedRows(released) === 1;
  }

  /** New spots and party size on a registration no saga holds, at its version. */
  async resize(m: Queryable, r: Registration, plan: SagaPlan): Promise<boolean> {
    const updated = await m.query<unknown>(
      `UPDATE event_registrations SET spots = ?, party_size = ?, version = version + 1
        WHERE id = ? AND pending_saga_id IS NULL AND version = ?`,
      [plan.spots, plan.partySize, r.id, r.version],
    );
    return affectedRows(updated) === 1;
  }

  /**
   * Sets the special requirements, inside the caller's transaction; true when the text changed
   * (compared byte for byte: the column's collation would call "No pork" and "no pork" equal).
   * Touches neither the version nor the saga claim: the text is not part of any counter move.
   */
  async setSpecialRequirements(
    m: Queryable,
    registrationId: string,
    text: string | null,
  ): Promise<boolean> {
    const updated = await m.query<unknown>(
      `UPDATE event_registrations SET special_requirements = ?
        WHERE id = ? AND NOT (BINARY special_requirements <=> BINARY ?)`,
      [text, registrationId, text],
    );
    return affectedRows(updated) === 1;
  }

  /** A registration's state for a change outside any saga, locked for the caller's transaction. */
  async lockState(
    m: Queryable,
    registrationId: string,
  ): Promise<
    | { status: RegistrationStatus; eventDateId: number; eventSlotId: number | null; spots: number }
    | undefined
  > {
    const [row] = await m.query<
      {
        status: RegistrationStatus;
        event_date_id: number;
        event_slot_id: number | null;
        spots: number;
      }[]
    >(
      'SELECT status, event_date_id, event_slot_id, spots FROM event_registrations WHERE id = ? FOR UPDATE',
      [registrationId],
    );
    return row
      ? {
          status: row.status,
          eventDateId: row.event_date_id,
          eventSlotId: row.event_slot_id,
          spots: row.spots,
        }
      : undefined;
  }

  /** Waitlisted registrations no saga holds become cancelled (the waitlist was closed). */
  async markWaitlistClosed(m: Queryable, registrationIds: string[]): Promise<number> {
    if (registrationIds.length === 0) return 0;
    const updated = await m.query<unknown>(
      `UPDATE event_registrations SET status = 'cancelled', cancelled_at = NOW(6), version = version + 1
        WHERE id IN (?) AND status = 'waitlisted' AND pending_saga_id IS NULL`,
      [registrationIds],
    );
    return affectedRows(updated);
  }

  async replaceMembers(m: Queryable, registrationId: string, memberIds: string[]): Promise<void> {
    await m.query('DELETE FROM event_registration_members WHERE registration_id = ?', [
      registrationId,
    ]);
    await this.insertMembers(
      m,
      memberIds.map((id) => [registrationId, id]),
    );
  }

  /** Members of registrations, one row per (registration, member), in one statement. */
  async insertMembers(
    m: Queryable,
    members: [registrationId: string, memberId: string][],
  ): Promise<void> {
    if (members.length === 0) return;
    await m.query('INSERT INTO event_registration_members (registration_id, member_id) VALUES ?', [
      members,
    ]);
  }

  // ---- staff writes -------------------------------------------------------------------------

  /** A confirmed registration no saga holds becomes checked_in, with the members present. */
  async markCheckedIn(
    m: Queryable,
    registrationId: string,
    memberIds: string[],
    checkedInAt: Date,
  ): Promise<boolean> {
    const updated = await m.query<unknown>(
      `UPDATE event_registrations SET status = 'checked_in', checked_in_at = ?, version = version + 1
        WHERE id = ? AND status = 'confirmed' AND pending_saga_id IS NULL`,
      [checkedInAt, registrationId],
    );
    if (affectedRows(updated) !== 1) return false;
    await m.query(
      'UPDATE event_registration_members SET checked_in = 1 WHERE registration_id = ? AND member_id IN (?)',
      [registrationId, memberIds],
    );
    return true;
  }

  /** Locks a cancelled registration that no saga holds or has unfinished; false otherwise. */
  async lockPurgeable(m: Queryable, registrationId: string): Promise<boolean> {
    const [row] = await m.query<{ id: string }[]>(
      `SELECT r.id FROM event_registrations r
        WHERE r.id = ? AND r.status = 'cancelled' AND r.pending_saga_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM registration_sagas s
                           WHERE s.registration_id = r.id AND s.state IN ('taking', 'releasing'))
        FOR UPDATE`,
      [registrationId],
    );
    return row !== undefined;
  }

  async deleteWithMembers(m: Queryable, registrationId: string): Promise<void> {
    await m.query('DELETE FROM event_registration_members WHERE registration_id = ?', [
      registrationId,
    ]);
    await m.query('DELETE FROM event_registrations WHERE id = ?', [registrationId]);
  }
}
