import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { shareReadsPerKey } from '../common/shared-read';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';
import type { Queryable } from '../database/sql';
import { CapacityUnit, DateSettings, DEFAULT_SETTINGS } from './registration.types';

export interface SettingsPatch {
  waitlistEnabled?: boolean;
  waitlistLimit?: number | null;
  capacityUnit?: CapacityUnit;
}

interface RawSettings {
  waitlist_enabled: number;
  waitlist_limit: number | null;
  capacity_unit: CapacityUnit;
}

function toSettings(eventDateId: number, row: RawSettings): DateSettings {
  return {
    eventDateId,
    waitlistEnabled: Number(row.waitlist_enabled) === 1,
    waitlistLimit: row.waitlist_limit,
    capacityUnit: row.capacity_unit,
  };
}

// The table event_date_settings: waitlist and capacity unit per date; a date without a row has
// the defaults. Its row lock is what serialises waitlist joiners and settings changes.
@Injectable()
export class DateSettingsRepository {
  // every registration of a date reads its settings: concurrent calls share a read
  private readonly shared = shareReadsPerKey((eventDateId: number) => this.read(eventDateId));

  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  /** The date's settings, frozen: concurrent callers share them. */
  async find(eventDateId: number): Promise<DateSettings> {
    return this.shared(eventDateId);
  }

  private async read(eventDateId: number): Promise<DateSettings> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawSettings[]>(
        'SELECT waitlist_enabled, waitlist_limit, capacity_unit FROM event_date_settings WHERE event_date_id = ?',
        [eventDateId],
      ),
    );
    const row = rows[0];
    if (!row) return { eventDateId, ...DEFAULT_SETTINGS };
    return toSettings(eventDateId, row);
  }

  /** The date's row (created with the defaults when missing), locked FOR UPDATE. */
  async lock(m: Queryable, eventDateId: number): Promise<DateSettings> {
    await m.query('INSERT IGNORE INTO event_date_settings (event_date_id) VALUES (?)', [
      eventDateId,
    ]);
    const [row] = await m.query<RawSettings[]>(
      'SELECT waitlist_enabled, waitlist_limit, capacity_unit FROM event_date_settings WHERE event_date_id = ? FOR UPDATE',
      [eventDateId],
    );
    return toSettings(eventDateId, row);
  }

  /** Writes the fields the patch names; the caller holds the row lock. */
  async update(m: Queryable, eventDateId: number, patch: SettingsPatch): Promise<void> {
    const changes = (
      [
        ['waitlist_enabled', patch.waitlistEnabled],
        ['waitlist_limit', patch.waitlistLimit],
        ['capacity_unit', patch.capacityUnit],
      ] as const
    ).filter(([, value]) => value !== undefined);
    if (changes.length === 0) return;
    await m.query(
      `UPDATE event_date_settings SET ${changes.map(([column]) => `${column} = ?`).join(', ')} WHERE event_date_id = ?`,
      [...changes.map(([, value]) => value), eventDateId],
    );
  }
}
