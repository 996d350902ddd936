import type { Connection, ResultSetHeader } from 'mysql2/promise';
import { insertDimTimes } from '../../src/demo/demo-seed';

// Builds public schedules for tests. Time keys are deliberately NOT minute numbers
// (key = 7000 + minute * 3), so code that computes a time from a key is caught.
const minuteKey = (minute: number): number => 7000 + minute * 3;
export const timeKey = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return minuteKey(h * 60 + m);
};

export async function seedDimTimes(sql: Connection): Promise<void> {
  await insertDimTimes(sql, minuteKey);
}

export function dateKeyFromToday(offsetDays: number): number {
  const d = new Date(Date.now() + offsetDays * 86_400_000);
  return Number(d.toISOString().slice(0, 10).replace(/-/g, ''));
}

export interface EventOptions {
  name?: string;
  zip?: string;
  timeZone?: string;
  published?: number;
  datesPublished?: number;
  statusId?: number;
}

export async function createEvent(sql: Connection, o: EventOptions = {}): Promise<number> {
  const [result] = await sql.query<ResultSetHeader>(
    `INSERT INTO events (event_name, zip, time_zone, status_publish_event, status_publish_event_dates,
       event_accept_resesrvations, status_id) VALUES (?, ?, ?, ?, ?, 1, ?)`,
    [
      o.name ?? 'Community Pantry',
      o.zip ?? '43215',
      o.timeZone ?? '',
      o.published ?? 1,
      o.datesPublished ?? 1,
      o.statusId ?? 1,
    ],
  );
  return result.insertId;
}

export interface DateOptions {
  dateKey?: number;
  capacity?: number;
  reserved?: number;
  start?: string;
  end?: string;
  statusPublish?: number;
  acceptReservations?: number;
  publishedDateKey?: number;
  publishedEnd?: Date | null;
  statusId?: number;
}

export async function createDate(
  sql: Connection,
  eventId: number,
  o: DateOptions = {},
): Promise<number> {
  const [result] = await sql.query<ResultSetHeader>(
    `INSERT INTO event_dates (event_id, event_date_key, capacity, reserved, start_time_key, end_time_key,
       status_publish, accept_walkin, accept_reservations, accept_interest, published_date_key,
       published_end_datetime, status_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 0, ?, ?, ?)`,
    [
      eventId,
      o.dateKey ?? dateKeyFromToday(7),
      o.capacity ?? 100,
      o.reserved ?? 0,
      timeKey(o.start ?? '09:00'),
      timeKey(o.end ?? '12:00'),
      o.statusPublish ?? 1,
      o.acceptReservations ?? 1,
      o.publishedDateKey ?? dateKeyFromToday(-30),
      o.publishedEnd ?? null,
      o.statusId ?? 1,
    ],
  );
  return result.insertId;
}

export async function createHour(
  sql: Connection,
  dateId: number,
  o: { capacity?: number; start?: string; end?: string; statusId?: number } = {},
): Promise<number> {
  const [result] = await sql.query<ResultSetHeader>(
    `INSERT INTO event_hours (event_date_id, capacity, reserved, start_time_key, end_time_key, status_id)
     VALUES (?, ?, 0, ?, ?, ?)`,
    [
      dateId,
      o.capacity ?? 100,
      timeKey(o.start ?? '09:00'),
      timeKey(o.end ?? '10:00'),
      o.statusId ?? 1,
    ],
  );
  return result.insertId;
}

export async function createSlot(
  sql: Connection,
  hourId: number,
  o: { capacity?: number; start?: string; end?: string; statusId?: number } = {},
): Promise<number> {
  const [result] = await sql.query<ResultSetHeader>(
    `INSERT INTO event_slots (event_hour_id, capacity, reserved, start_time_key, end_time_key, duration_minutes, status_id)
     VALUES (?, ?, 0, ?, ?, 15, ?)`,
    [
      hourId,
      o.capacity ?? 10,
      timeKey(o.start ?? '09:00'),
      timeKey(o.end ?? '09:15'),
      o.statusId ?? 1,
    ],
  );
  return result.insertId;
}

export interface SlotDate {
  eventId: number;
  dateId: number;
  hourId: number;
  slotIds: number[];
}

/** A bookable date with one hour and `slots` slots of `slotCapacity`, starting 09:00, 15 min each. */
export async function createSlotDate(
  sql: Connection,
  o: {
    slots?: number;
    slotCapacity?: number;
    hourCapacity?: number;
    dateCapacity?: number;
  } & DateOptions = {},
): Promise<SlotDate> {
  const eventId = await createEvent(sql);
  const slots = o.slots ?? 2;
  const slotCapacity = o.slotCapacity ?? 10;
  const dateId = await createDate(sql, eventId, {
    capacity: o.dateCapacity ?? slots * slotCapacity,
    ...o,
  });
  const hourId = await createHour(sql, dateId, {
    capacity: o.hourCapacity ?? slots * slotCapacity,
    start: '09:00',
    end: '10:00',
  });
  const slotIds: number[] = [];
  for (let i = 0; i < slots; i++) {
    const start = 9 * 60 + i * 15;
    const fmt = (m: number) =>
      `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    slotIds.push(
      await createSlot(sql, hourId, {
        capacity: slotCapacity,
        start: fmt(start),
        end: fmt(start + 15),
      }),
    );
  }
  return { eventId, dateId, hourId, slotIds };
}

/** The counters of slot `slot` of a slot date, its hour and the date. */
export function slotCounters(sql: Connection, s: SlotDate, slot = 0) {
  return counters(sql, { dateId: s.dateId, hourId: s.hourId, slotId: s.slotIds[slot] });
}

/** The schedule's owner sets slot `slot` of a slot date, its hour and the date alike. */
export async function updateSlotDate(
  sql: Connection,
  s: SlotDate,
  set: { capacity: number } | { reserved: number },
  slot = 0,
): Promise<void> {
  const [[column, value]] = Object.entries(set);
  await sql.query(`UPDATE event_slots SET ${column} = ? WHERE event_slot_id = ?`, [
    value,
    s.slotIds[slot],
  ]);
  await sql.query(`UPDATE event_hours SET ${column} = ? WHERE event_hour_id = ?`, [
    value,
    s.hourId,
  ]);
  await sql.query(`UPDATE event_dates SET ${column} = ? WHERE event_date_id = ?`, [
    value,
    s.dateId,
  ]);
}

export async function counters(
  sql: Connection,
  s: { dateId: number; hourId?: number; slotId?: number },
) {
  const [[date]] = await sql.query<any[]>(
    'SELECT capacity, reserved FROM event_dates WHERE event_date_id = ?',
    [s.dateId],
  );
  const hour = s.hourId
    ? (
        await sql.query<any[]>(
          'SELECT capacity, reserved FROM event_hours WHERE event_hour_id = ?',
          [s.hourId],
        )
      )[0][0]
    : undefined;
  const slot = s.slotId
    ? (
        await sql.query<any[]>(
          'SELECT capacity, reserved FROM event_slots WHERE event_slot_id = ?',
          [s.slotId],
        )
      )[0][0]
    : undefined;
  return { date, hour, slot };
}
