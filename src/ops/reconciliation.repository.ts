import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';

/** What the private side says the counters of one date should hold, as of one instant. */
export interface HeldSnapshot {
  slots: Map<number, number>;
  hours: Map<number, number>;
  date: number;
  /** unfinished sagas on the date that this caller does not own */
  inFlight: string[];
}

// Private reads for the reconciliation of counters (recovery, backfill, drift report).
@Injectable()
export class ReconciliationRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  /**
   * Held spots per counter and the sagas in flight, read in ONE consistent snapshot, so a saga
   * that finishes between the two reads cannot be missed by both.
   */
  async snapshot(eventDateId: number, ownedSagaIds: string[] = []): Promise<HeldSnapshot> {
    return translatePrivateError(async () => {
      const runner = this.db.createQueryRunner();
      await runner.connect();
      try {
        await runner.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await runner.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
        const held = (await runner.query(
          `SELECT event_slot_id, event_hour_id, SUM(spots) AS spots FROM event_registrations
            WHERE event_date_id = ? AND status IN ('confirmed', 'checked_in')
            GROUP BY event_slot_id, event_hour_id`,
          [eventDateId],
        )) as { event_slot_id: number | null; event_hour_id: number | null; spots: string }[];
        const sagas = (await runner.query(
          "SELECT id FROM registration_sagas WHERE event_date_id = ? AND state IN ('taking', 'releasing')",
          [eventDateId],
        )) as { id: string }[];
        await runner.query('COMMIT');
        const snapshot: HeldSnapshot = {
          slots: new Map(),
          hours: new Map(),
          date: 0,
          inFlight: [],
        };
        for (const row of held) {
          const spots = Number(row.spots);
          snapshot.date += spots;
          if (row.event_slot_id === null) continue;
          snapshot.slots.set(
            row.event_slot_id,
            (snapshot.slots.get(row.event_slot_id) ?? 0) + spots,
          );
          if (row.event_hour_id !== null) {
            snapshot.hours.set(
              row.event_hour_id,
              (snapshot.hours.get(row.event_hour_id) ?? 0) + spots,
            );
          }
        }
        const owned = new Set(ownedSagaIds);
        snapshot.inFlight = sagas.map((s) => String(s.id)).filter((id) => !owned.has(id));
        return snapshot;
      } finally {
        await runner.release();
      }
    });
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

  /**
   * Claims every unfinished saga of one date, provided all their leases have expired (a live
   * lease means a request, or another instance's recovery, is working there: the date is left
   * alone). Recovery settles a date as a whole because its counters are shared by all its sagas.
   */
  async claimStuckDate(
    leaseSeconds: number,
    exclude: number[],
  ): Promise<{ eventDateId: number; sagaIds: string[] } | undefined> {
    return translatePrivateError(() =>
      this.db.transaction(async (m) => {
        const [first] = await m.query<{ event_date_id: number }[]>(
          `SELECT event_date_id FROM registration_sagas
            WHERE state IN ('taking', 'releasing') AND lease_until < NOW(6) ${exclude.length > 0 ? 'AND event_date_id NOT IN (?)' : ''}
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          exclude.length > 0 ? [exclude] : [],
        );
        if (!first) return undefined;
        const eventDateId = Number(first.event_date_id);
        const sagas = await m.query<{ id: string; expired: number | string }[]>(
          `SELECT id, (lease_until < NOW(6)) AS expired FROM registration_sagas
            WHERE event_date_id = ? AND state IN ('taking', 'releasing') ORDER BY id FOR UPDATE`,
          [eventDateId],
        );
        if (sagas.some((saga) => Number(saga.expired) !== 1)) return { eventDateId, sagaIds: [] };
        const sagaIds = sagas.map((saga) => String(saga.id));
        await m.query(
          'UPDATE registration_sagas SET lease_until = NOW(6) + INTERVAL ? SECOND WHERE id IN (?)',
          [leaseSeconds, sagaIds],
        );
        return { eventDateId, sagaIds };
      }),
    );
  }

  /**
   * Recovery takes a `taking` saga over: a new saga row replaces it on the registration (and on
   * its idempotency key), so the original process, if it is somehow still running, can no longer
   * finish it (its fenced updates match nothing) and gives back whatever it took.
   */
  async supersede(sagaId: string, leaseSeconds: number): Promise<string | undefined> {
    return translatePrivateError(() =>
      this.db.transaction(async (m) => {
        const [old] = await m.query<Record<string, unknown>[]>(
          "SELECT * FROM registration_sagas WHERE id = ? AND state = 'taking' FOR UPDATE",
          [sagaId],
        );
        if (!old) return undefined;
        const inserted = await m.query<{ insertId: number | string }>(
          `INSERT INTO registration_sagas (registration_id, event_date_id, kind, state, take_slot_id, take_hour_id,
             take_spots, release_slot_id, release_hour_id, release_spots, plan, actor, idempotency_scope, lease_until)
           SELECT registration_id, event_date_id, kind, 'taking', take_slot_id, take_hour_id, take_spots,
                  release_slot_id, release_hour_id, release_spots, plan, actor, idempotency_scope,
                  NOW(6) + INTERVAL ? SECOND
             FROM registration_sagas WHERE id = ?`,
          [leaseSeconds, sagaId],
        );
        const newId = String(inserted.insertId);
        const moved = await m.query<{ affectedRows: number }>(
          'UPDATE event_registrations SET pending_saga_id = ? WHERE id = ? AND pending_saga_id = ?',
          [newId, old.registration_id, sagaId],
        );
        await m.query(
          "UPDATE registration_sagas SET state = 'failed', outcome = 'SUPERSEDED' WHERE id = ?",
          [sagaId],
        );
        if (moved.affectedRows !== 1) {
          // the registration no longer waits on this saga: nothing left to finish
          await m.query(
            "UPDATE registration_sagas SET state = 'failed', outcome = 'ORPHANED' WHERE id = ?",
            [newId],
          );
          return undefined;
        }
        await m.query('UPDATE idempotency_keys SET saga_id = ? WHERE saga_id = ?', [newId, sagaId]);
        return newId;
      }),
    );
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

  async markReleased(sagaId: string): Promise<void> {
    await translatePrivateError(() =>
      this.db.query(
        "UPDATE registration_sagas SET state = 'done' WHERE id = ? AND state = 'releasing'",
        [sagaId],
      ),
    );
  }

  async unfinishedCount(): Promise<number> {
    const [row] = await translatePrivateError(() =>
      this.db.query<{ n: string }[]>(
        "SELECT COUNT(*) AS n FROM registration_sagas WHERE state IN ('taking', 'releasing')",
      ),
    );
    return Number(row.n);
  }
}
