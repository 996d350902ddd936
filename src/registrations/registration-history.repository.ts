import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';
import type { Queryable } from '../database/sql';
import { RegistrationStatus } from './registration.types';
import type { HistoryEntry } from './saga/saga.types';

export interface HistoryRow {
  at: Date;
  actor: string;
  action: string;
  fromStatus: RegistrationStatus | null;
  toStatus: RegistrationStatus;
  spots: number;
  /** the registration whose change caused this one (a promotion after a cancel), else null */
  causeRegistrationId: string | null;
}

/** One history row: which registration, who acted, and the change. */
export type HistoryRecord = HistoryEntry & {
  registrationId: string;
  eventDateId: number;
  actor: string;
};

// The table registration_history: one row per change of a registration, written in the same
// transaction as the change.
@Injectable()
export class RegistrationHistoryRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  async record(
    m: Queryable,
    at: { registrationId: string; eventDateId: number; actor: string },
    entry: HistoryEntry,
    fromStatus: RegistrationStatus | null,
  ): Promise<void> {
    await this.recordMany(
      m,
      [
        {
          ...entry,
          registrationId: at.registrationId,
          eventDateId: at.eventDateId,
          actor: at.actor,
          fromStatus: entry.fromStatus ?? fromStatus,
        },
      ],
      'now',
    );
  }

  /**
   * One row per entry in one statement, all at the same instant: `at` (a batch passes its
   * transaction's clock), or 'now', the database clock when the statement runs.
   */
  async recordMany(m: Queryable, entries: HistoryRecord[], at: Date | 'now'): Promise<void> {
    if (entries.length === 0) return;
    const clock = at === 'now' ? [] : [at];
    await m.query(
      `INSERT INTO registration_history (registration_id, event_date_id, at, actor, action, from_status, to_status,
         spots, event_slot_id, cause_registration_id)
       VALUES ${entries.map(() => `(?, ?, ${at === 'now' ? 'NOW(6)' : '?'}, ?, ?, ?, ?, ?, ?, ?)`).join(', ')}`,
      entries.flatMap((e) => [
        e.registrationId,
        e.eventDateId,
        ...clock,
        e.actor,
        e.action,
        e.fromStatus,
        e.toStatus,
        e.spots,
        e.eventSlotId,
        e.cause ?? null,
      ]),
    );
  }

  async list(registrationId: string): Promise<HistoryRow[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<
        {
          at: Date;
          actor: string;
          action: string;
          from_status: RegistrationStatus | null;
          to_status: RegistrationStatus;
          spots: number;
          cause_registration_id: string | number | null;
        }[]
      >(
        `SELECT at, actor, action, from_status, to_status, spots, cause_registration_id FROM registration_history
          WHERE registration_id = ? ORDER BY at, id`,
        [registrationId],
      ),
    );
    return rows.map((r) => ({
      at: r.at,
      actor: r.actor,
      action: r.action,
      fromStatus: r.from_status,
      toStatus: r.to_status,
      spots: r.spots,
      causeRegistrationId:
        r.cause_registration_id === null ? null : String(r.cause_registration_id),
    }));
  }

  async deleteFor(m: Queryable, registrationId: string): Promise<void> {
    await m.query('DELETE FROM registration_history WHERE registration_id = ?', [registrationId]);
  }
}
