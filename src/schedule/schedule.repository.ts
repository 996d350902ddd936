import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { shareReadsPerKey } from '../common/shared-read';
import { hhmm } from '../common/time';
import { PUBLIC_DB } from '../database/database.constants';
import { translatePublicError } from '../database/db-errors';
import { ScheduleDate, ScheduleHour, ScheduleSlot } from './schedule.types';

interface DateRow {
  event_date_id: number;
  event_id: number;
  event_name: string;
  time_zone: string;
  zip: string;
  event_date_key: number;
  capacity: number;
  reserved: number;
  start_time: string | null;
  end_time: string | null;
  status_publish: number;
  accept_reservations: number;
  published_date_key: number;
  published_end_datetime: Date | null;
  status_id: number;
  status_publish_event: number;
  status_publish_event_dates: number;
  event_status_id: number;
}

interface SlotRow {
  event_date_id: number;
  event_hour_id: number;
  hour_capacity: number;
  hour_reserved: number;
  hour_start: string | null;
  hour_end: string | null;
  event_slot_id: number;
  capacity: number;
  reserved: number;
  slot_start: string | null;
  slot_end: string | null;
}

const DATE_COLUMNS = `
  d.event_date_id, d.event_id, e.event_name, e.time_zone, e.zip, d.event_date_key, d.capacity, d.reserved,
  ts.mysql_time AS start_time, te.mysql_time AS end_time, d.status_publish, d.accept_reservations,
  d.published_date_key, d.published_end_datetime, d.status_id, e.status_publish_event,
  e.status_publish_event_dates, e.status_id AS event_status_id`;

const DATE_FROM = `
  FROM event_dates d
  JOIN events e ON e.event_id = d.event_id
  LEFT JOIN dim_times ts ON ts.time_key = d.start_time_key
  LEFT JOIN dim_times te ON te.time_key = d.end_time_key`;

// Reads of the public schedule. Times always come from a join with dim_times: a time key is
// opaque and is never turned into a time by arithmetic.
@Injectable()
export class ScheduleRepository {
  // the rush asks for one date a thousand times at once: concurrent calls share a read
  private readonly dateShared = shareReadsPerKey(async (eventDateId: number) => {
    const dates = await this.findDates([eventDateId]);
    return dates[0];
  });

  constructor(@InjectDataSource(PUBLIC_DB) private readonly db: DataSource) {}

  /** The date with its hours and slots, frozen: concurrent callers share it. */
  async findDate(eventDateId: number): Promise<ScheduleDate | undefined> {
    return this.dateShared(eventDateId);
  }

  async findDates(ids: number[]): Promise<ScheduleDate[]> {
    if (ids.length === 0) return [];
    return translatePublicError(async () => {
      const rows = await this.db.query<DateRow[]>(
        `SELECT ${DATE_COLUMNS} ${DATE_FROM} WHERE d.event_date_id IN (?) ORDER BY d.event_date_key, d.event_date_id`,
        [ids],
      );
      return this.withHours(rows);
    });
  }

  /** Candidate dates for the listing; the caller applies isBookable. */
  async findDatesInRange(fromKey: number, toKey: number, zip?: string): Promise<ScheduleDate[]> {
    return translatePublicError(async () => {
      const rows = await this.db.query<DateRow[]>(
        `SELECT ${DATE_COLUMNS} ${DATE_FROM}
          WHERE d.event_date_key BETWEEN ? AND ? AND d.status_id = 1 AND d.status_publish = 1
            AND d.accept_reservations = 1 AND e.status_id = 1 AND e.status_publish_event = 1
            AND e.status_publish_event_dates = 1 ${zip ? 'AND e.zip = ?' : ''}
          ORDER BY d.event_date_key, d.event_date_id
          LIMIT 5000`,
        zip ? [fromKey, toKey, zip] : [fromKey, toKey],
      );
      return this.withHours(rows);
    });
  }

  private async withHours(rows: DateRow[]): Promise<ScheduleDate[]> {
    if (rows.length === 0) return [];
    const slotRows = await this.db.query<SlotRow[]>(
      `SELECT h.event_date_id, h.event_hour_id, h.capacity AS hour_capacity, h.reserved AS hour_reserved,
              hs.mysql_time AS hour_start, he.mysql_time AS hour_end,
              s.event_slot_id, s.capacity, s.reserved, ss.mysql_time AS slot_start, se.mysql_time AS slot_end
         FROM event_hours h
         JOIN event_slots s ON s.event_hour_id = h.event_hour_id AND s.status_id = 1
         LEFT JOIN dim_times hs ON hs.time_key = h.start_time_key
         LEFT JOIN dim_times he ON he.time_key = h.end_time_key
         LEFT JOIN dim_times ss ON ss.time_key = s.start_time_key
         LEFT JOIN dim_times se ON se.time_key = s.end_time_key
        WHERE h.event_date_id IN (?) AND h.status_id = 1
        ORDER BY h.event_date_id, hs.minute_of_day, h.event_hour_id, ss.minute_of_day, s.event_slot_id`,
      [rows.map((r) => r.event_date_id)],
    );
    const hoursByDate = new Map<number, ScheduleHour[]>();
    const hoursById = new Map<number, ScheduleHour>();
    for (const row of slotRows) {
      let hour = hoursById.get(row.event_hour_id);
      if (!hour) {
        hour = {
          id: row.event_hour_id,
          capacity: row.hour_capacity,
          reserved: row.hour_reserved,
          startTime: hhmm(row.hour_start),
          endTime: hhmm(row.hour_end),
          slots: [],
        };
        hoursById.set(hour.id, hour);
        const list = hoursByDate.get(row.event_date_id) ?? [];
        list.push(hour);
        hoursByDate.set(row.event_date_id, list);
      }
      const slot: ScheduleSlot = {
        id: row.event_slot_id,
        hourId: row.event_hour_id,
        capacity: row.capacity,
        reserved: row.reserved,
        startTime: hhmm(row.slot_start),
        endTime: hhmm(row.slot_end),
      };
      hour.slots.push(slot);
    }
    return rows.map((row) => ({
      id: row.event_date_id,
      eventId: row.event_id,
      eventName: row.event_name,
      timeZone: row.time_zone,
      zip: row.zip,
      dateKey: row.event_date_key,
      capacity: row.capacity,
      reserved: row.reserved,
      startTime: hhmm(row.start_time),
      endTime: hhmm(row.end_time),
      statusPublish: row.status_publish,
      acceptReservations: row.accept_reservations,
      publishedDateKey: row.published_date_key,
      publishedEndDatetime: row.published_end_datetime,
      statusId: row.status_id,
      eventPublished: row.status_publish_event,
      eventDatesPublished: row.status_publish_event_dates,
      eventStatusId: row.event_status_id,
      hours: hoursByDate.get(row.event_date_id) ?? [],
    }));
  }
}
