import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';

export type CapacityUnit = 'household' | 'person';

export interface DateSettings {
  waitlistEnabled: boolean;
  waitlistLimit: number | null;
  capacityUnit: CapacityUnit;
}

export const DEFAULT_DATE_SETTINGS: DateSettings = {
  waitlistEnabled: true,
  waitlistLimit: null,
  capacityUnit: 'household',
};

export interface WaitlistCounts {
  /** waitlisted registrations per slot id */
  bySlot: Map<number, number>;
  /** waitlisted registrations booked at date level (no slot) */
  dateLevel: number;
  /** every waitlisted registration of the date, whatever its target */
  total: number;
}

// The private half of a date's availability: its waitlist settings and queue lengths.
@Injectable()
export class AvailabilityRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  async settings(eventDateId: number): Promise<DateSettings> {
    return translatePrivateError(async () => {
      const rows = await this.db.query<
        { waitlist_enabled: number; waitlist_limit: number | null; capacity_unit: string }[]
      >(
        'SELECT waitlist_enabled, waitlist_limit, capacity_unit FROM event_date_settings WHERE event_date_id = ?',
        [eventDateId],
      );
      const row = rows[0];
      if (!row) return { ...DEFAULT_DATE_SETTINGS };
      return {
        waitlistEnabled: Number(row.waitlist_enabled) === 1,
        waitlistLimit: row.waitlist_limit === null ? null : Number(row.waitlist_limit),
        capacityUnit: row.capacity_unit === 'person' ? 'person' : 'household',
      };
    });
  }

  async waitlistCounts(eventDateId: number): Promise<WaitlistCounts> {
    return translatePrivateError(async () => {
      const rows = await this.db.query<{ event_slot_id: number | null; n: number | string }[]>(
        `SELECT event_slot_id, COUNT(*) AS n FROM event_registrations
          WHERE event_date_id = ? AND status = 'waitlisted'
          GROUP BY event_slot_id`,
        [eventDateId],
      );
      const counts: WaitlistCounts = { bySlot: new Map(), dateLevel: 0, total: 0 };
      for (const row of rows) {
        const n = Number(row.n);
        counts.total += n;
        if (row.event_slot_id === null) counts.dateLevel += n;
        else counts.bySlot.set(Number(row.event_slot_id), n);
      }
      return counts;
    });
  }
}
