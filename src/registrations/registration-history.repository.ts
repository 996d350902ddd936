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
}

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
    await m.query(
      `INSERT INTO registration_history (registration_id, event_date_id, at, actor, action, from_status, to_status,
         spots, event_slot_id) VALUES (?, ?, NOW(6), ?, ?, ?, ?, ?, ?)`,
      [
        at.registrationId,
        at.eventDateId,
        at.actor,
        entry.action,
        entry.fromStatus ?? fromStatus,
        entry.toStatus,
        entry.spots,
        entry.eventSlotId,
      ],
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
        }[]
      >(
        `SELECT at, actor, action, from_status, to_status, spots FROM registration_history
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
    }));
  }

  async deleteFor(m: Queryable, registrationId: string): Promise<void> {
    await m.query('DELETE FROM registration_history WHERE registration_id = ?', [registrationId]);
  }
}
