import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { isDuplicateKey } from '../database/db-errors';
import { caseOf, Queryable } from '../database/sql';
import type { CounterTarget } from '../schedule/schedule.types';
import type { NewRegistration } from './saga/saga.types';

const ALREADY_REGISTERED = 'uq_registrations_household_active_date';

/** A registration and the saga that should hold it. */
export type Held = [registrationId: string, sagaId: string];

// The tables event_registrations and event_registration_members, many rows per statement: what
// the group commit (saga/batch/) writes in one transaction for a whole batch. Beside
// registration.repository.ts rather than in it, which would pass 500 lines with them. The
// `...Held` writes are not fenced themselves: they take only the ids `lockHeld` returned, the
// rows the caller has locked and found still held by its own sagas.
@Injectable()
export class RegistrationBatchRepository {
  /**
   * New pending registrations in one INSERT ... RETURNING (ids in row order). A household that
   * already holds an active registration (or appears twice) gets ALREADY_REGISTERED and the
   * others go on: the rows are then inserted one by one under savepoints, so only that
   * household's row is refused.
   */
  async insertPending(
    m: Queryable,
    inputs: NewRegistration[],
  ): Promise<({ id: string; createdAt: Date } | DomainError)[]> {
    try {
      await m.query('SAVEPOINT batch_insert');
      return await this.insert(m, inputs);
    } catch (error) {
      if (!isDuplicateKey(error, ALREADY_REGISTERED)) throw error;
      await m.query('ROLLBACK TO SAVEPOINT batch_insert');
    }
    const rows: ({ id: string; createdAt: Date } | DomainError)[] = [];
    for (const input of inputs) {
      try {
        await m.query('SAVEPOINT one_insert');
        rows.push((await this.insert(m, [input]))[0]);
      } catch (error) {
        if (!isDuplicateKey(error, ALREADY_REGISTERED)) throw error;
        await m.query('ROLLBACK TO SAVEPOINT one_insert');
        rows.push(alreadyRegistered());
      }
    }
    return rows;
  }

  /** Each new pending registration is held by its own saga. */
  async linkPending(m: Queryable, pairs: Held[]): Promise<void> {
    const link = caseOf('id', pairs);
    await m.query(`UPDATE event_registrations SET pending_saga_id = ${link.sql} WHERE id IN (?)`, [
      ...link.params,
      pairs.map(([id]) => id),
    ]);
  }

  /**
   * Locks the registrations (in id order) and returns those still held by the given saga, with
   * the transaction's clock, so every row the batch writes carries the same instant.
   */
  async lockHeld(m: Queryable, pairs: Held[]): Promise<{ held: Set<string>; now: Date }> {
    const rows = await m.query<{ id: string; pending_saga_id: string | null; now: Date }[]>(
      `SELECT id, pending_saga_id, NOW(6) AS now FROM event_registrations WHERE id IN (?)
        ORDER BY id FOR UPDATE`,
      [pairs.map(([id]) => id)],
    );
    const want = new Map(pairs);
    const held = new Set(
      rows
        .filter(
          (r) => r.pending_saga_id !== null && want.get(String(r.id)) === String(r.pending_saga_id),
        )
        .map((r) => String(r.id)),
    );
    const [clock] = rows.length > 0 ? rows : await m.query<{ now: Date }[]>('SELECT NOW(6) AS now');
    return { held, now: clock.now };
  }

  /** Pending registrations granted their seat: confirmed at `at`, the claims released. */
  async confirmHeld(m: Queryable, ids: string[], at: Date): Promise<void> {
    await m.query(
      `UPDATE event_registrations
          SET status = 'confirmed', confirmed_at = ?, updated_at = ?, pending_saga_id = NULL,
              version = version + 1
        WHERE id IN (?)`,
      [at, at, ids],
    );
  }

  /** Pending registrations join their waitlists, each at its place (assignPlaces). */
  async waitlistHeld(m: Queryable, places: [string, number][], at: Date): Promise<void> {
    const place = caseOf('id', places);
    await m.query(
      `UPDATE event_registrations
          SET status = 'waitlisted', queued_at = created_at, queue_place = ${place.sql},
              updated_at = ?, pending_saga_id = NULL, version = version + 1
        WHERE id IN (?)`,
      [...place.params, at, places.map(([id]) => id)],
    );
  }

  /** Removes pending registrations and their members. */
  async deleteHeld(m: Queryable, ids: string[]): Promise<void> {
    await m.query('DELETE FROM event_registrations WHERE id IN (?)', [ids]);
    await m.query('DELETE FROM event_registration_members WHERE registration_id IN (?)', [ids]);
  }

  /**
   * The waitlisted registrations among `ids` on `target` that no saga holds, locked (FOR UPDATE):
   * what a promotion batch may claim.
   */
  async lockPromotable(
    m: Queryable,
    ids: string[],
    target: CounterTarget,
  ): Promise<Map<string, { partySize: number; spots: number }>> {
    const rows = await m.query<{ id: string; party_size: number; spots: number }[]>(
      `SELECT id, party_size, spots FROM event_registrations
        WHERE id IN (?) AND status = 'waitlisted' AND pending_saga_id IS NULL
          AND event_date_id = ? AND event_slot_id <=> ? FOR UPDATE`,
      [ids, target.eventDateId, target.eventSlotId],
    );
    return new Map(rows.map((r) => [String(r.id), { partySize: r.party_size, spots: r.spots }]));
  }

  /** Locked registrations claimed each by its own saga (no change a client sees). */
  async claimLocked(m: Queryable, pairs: Held[]): Promise<void> {
    const link = caseOf('id', pairs);
    await m.query(
      `UPDATE event_registrations
          SET pending_saga_id = ${link.sql}, version = version + 1, updated_at = updated_at
        WHERE id IN (?)`,
      [...link.params, pairs.map(([id]) => id)],
    );
  }

  /** Promoted waitlisted registrations: confirmed, out of the queue, the claims released. */
  async promoteHeld(m: Queryable, ids: string[], at: Date): Promise<void> {
    await m.query(
      `UPDATE event_registrations
          SET status = 'confirmed', confirmed_at = COALESCE(confirmed_at, ?), queued_at = NULL,
              queue_place = NULL, pending_saga_id = NULL, version = version + 1
        WHERE id IN (?)`,
      [at, ids],
    );
  }

  /** The claims given back, the registrations unchanged. */
  async releaseHeld(m: Queryable, ids: string[]): Promise<void> {
    await m.query(
      'UPDATE event_registrations SET pending_saga_id = NULL, updated_at = updated_at WHERE id IN (?)',
      [ids],
    );
  }

  /**
   * The cancellable registrations among `ids` (confirmed or waitlisted, no saga holding them),
   * locked, with their versions and the transaction's clock.
   */
  async lockCancellable(
    m: Queryable,
    ids: string[],
  ): Promise<{ versions: Map<string, number>; now: Date }> {
    const rows = await m.query<{ id: string; version: number; now: Date }[]>(
      `SELECT id, version, NOW(6) AS now FROM event_registrations
        WHERE id IN (?) AND pending_saga_id IS NULL AND status IN ('confirmed', 'waitlisted')
        FOR UPDATE`,
      [ids],
    );
    return {
      versions: new Map(rows.map((r) => [String(r.id), Number(r.version)])),
      now: rows[0]?.now ?? new Date(),
    };
  }

  /** Locked (lockCancellable) registrations become cancelled at `at`. */
  async cancelLocked(m: Queryable, ids: string[], at: Date): Promise<void> {
    await m.query(
      `UPDATE event_registrations SET status = 'cancelled', cancelled_at = ?, updated_at = ?,
              version = version + 1
        WHERE id IN (?)`,
      [at, at, ids],
    );
  }

  private async insert(
    m: Queryable,
    inputs: NewRegistration[],
  ): Promise<{ id: string; createdAt: Date }[]> {
    const rows = await m.query<{ id: string | number; created_at: Date }[]>(
      `INSERT INTO event_registrations (household_id, event_id, event_date_id, event_hour_id,
         event_slot_id, status, party_size, spots, created_by, special_requirements)
       VALUES ${inputs.map(() => "(?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)").join(', ')}
       RETURNING id, created_at`,
      inputs.flatMap((input) => [
        input.householdId,
        input.eventId,
        input.target.eventDateId,
        input.target.eventHourId,
        input.target.eventSlotId,
        input.partySize,
        input.spots,
        input.actor,
        // written with the row, never copied into the saga row (see NewRegistration)
        input.specialRequirements,
      ]),
    );
    return rows.map((r) => ({ id: String(r.id), createdAt: r.created_at }));
  }
}

function alreadyRegistered(): DomainError {
  return new DomainError(
    'ALREADY_REGISTERED',
    'This household already has an active registration for this event date',
  );
}
