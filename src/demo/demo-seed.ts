import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createConnection,
  type Connection,
  type ResultSetHeader,
  type RowDataPacket,
} from 'mysql2/promise';
import type { DbUrl } from '../config/app-config';

// Demo data for a development machine: the public schedule that the other system would own,
// and the private registrations that account for its reserved counters.

const PUBLIC_TABLES = ['dim_times', 'events', 'event_dates', 'event_hours', 'event_slots'];
const SCHEMA_FILE = join(__dirname, '..', '..', 'db', 'public', 'schema.sql');

// Opaque, shuffled time keys: 37 is coprime with 1440, so this is a permutation of the day's
// minutes offset far from any minute number. Only the seed knows it; the service joins dim_times.
export const demoTimeKey = (minute: number): number => 100_000 + ((minute * 37) % 1440);
const at = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return demoTimeKey(h * 60 + m);
};

function server(db: DbUrl) {
  return { host: db.host, port: db.port, user: db.user, password: db.password };
}

export async function connectCreatingDatabase(db: DbUrl): Promise<Connection> {
  const admin = await createConnection(server(db));
  try {
    await admin.query(
      `CREATE DATABASE IF NOT EXISTS \`${db.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await admin.end();
  }
  return createConnection({
    ...server(db),
    database: db.database,
    timezone: 'Z',
    dateStrings: ['DATE'],
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
}

/** Creates the public tables that are missing, from the verbatim copy of the contract schema. */
export async function ensurePublicSchema(sql: Connection): Promise<string[]> {
  const [rows] = await sql.query<RowDataPacket[]>(
    'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()',
  );
  const present = new Set(rows.map((r) => String(r.name)));
  const created: string[] = [];
  const statements = readFileSync(SCHEMA_FILE, 'utf8')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s !== '');
  for (const statement of statements) {
    const table = /CREATE TABLE\s+`?(\w+)`?/i.exec(statement)?.[1];
    if (table === undefined || present.has(table)) continue;
    await sql.query(statement);
    created.push(table);
  }
  const missing = PUBLIC_TABLES.filter((t) => !present.has(t) && !created.includes(t));
  if (missing.length > 0)
    throw new Error(`db/public/schema.sql did not create ${missing.join(', ')}`);
  return created;
}

export async function countRows(sql: Connection, table: string): Promise<number> {
  const [rows] = await sql.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${table}\``);
  return Number(rows[0].n);
}

async function seedDimTimes(sql: Connection): Promise<void> {
  if ((await countRows(sql, 'dim_times')) > 0) return;
  await insertDimTimes(sql, demoTimeKey);
}

/** Fills dim_times: a row for each minute of the day, under the time key `keyOf(minute)`. */
export async function insertDimTimes(
  sql: Connection,
  keyOf: (minute: number) => number,
): Promise<void> {
  const rows: unknown[][] = [];
  for (let minute = 0; minute < 24 * 60; minute++) {
    const h = Math.floor(minute / 60);
    const hh = String(h).padStart(2, '0');
    const mm = String(minute % 60).padStart(2, '0');
    const h12 = h % 12 === 0 ? 12 : h % 12;
    rows.push([
      keyOf(minute),
      minute,
      h,
      `${h12}:${mm}`,
      h < 12 ? 'AM' : 'PM',
      `${hh}${mm}`,
      `${hh}:${mm}:00`,
    ]);
  }
  await sql.query(
    'INSERT INTO dim_times (time_key, minute_of_day, hour_of_day, short_time, AM_PM, military_time, mysql_time) VALUES ?',
    [rows],
  );
}

function dateKey(offsetDays: number, now: Date): number {
  const d = new Date(now.getTime() + offsetDays * 86_400_000);
  return Number(d.toISOString().slice(0, 10).replace(/-/g, ''));
}

interface DemoEvent {
  name: string;
  zip: string;
  city: string;
  address: string;
  dates: {
    inDays: number;
    start: string;
    end: string;
    slots?: { reserved: number[]; capacity: number };
  }[];
}

// Several events over the next weeks in different ZIP codes: dates with an hour of 15-minute
// slots, dates booked at date level, and one slot with a single place left.
const EVENTS: DemoEvent[] = [
  {
    name: 'Downtown Community Pantry',
    zip: '43215',
    city: 'Columbus',
    address: '100 E Broad St',
    dates: [
      { inDays: 2, start: '09:00', end: '10:00', slots: { capacity: 6, reserved: [5, 2, 0, 0] } },
      { inDays: 9, start: '09:00', end: '10:00', slots: { capacity: 6, reserved: [0, 0, 0, 0] } },
      { inDays: 16, start: '09:00', end: '12:00' },
    ],
  },
  {
    name: 'Eastside Mobile Market',
    zip: '43205',
    city: 'Columbus',
    address: '1500 E Main St',
    dates: [
      { inDays: 4, start: '14:00', end: '17:00' },
      { inDays: 11, start: '14:00', end: '15:00', slots: { capacity: 8, reserved: [0, 0, 0, 0] } },
    ],
  },
  {
    name: 'Westside Fresh Produce Drive',
    zip: '44102',
    city: 'Cleveland',
    address: '3200 Lorain Ave',
    dates: [
      { inDays: 6, start: '10:00', end: '11:00', slots: { capacity: 5, reserved: [0, 0, 0, 0] } },
      { inDays: 20, start: '10:00', end: '13:00' },
    ],
  },
  {
    name: 'Riverfront Senior Box Distribution',
    zip: '45202',
    city: 'Cincinnati',
    address: '600 Walnut St',
    dates: [{ inDays: 13, start: '08:30', end: '11:30' }],
  },
];

export interface SeededSlot {
  eventId: number;
  eventDateId: number;
  eventHourId: number;
  eventSlotId: number;
  reserved: number;
}

export interface PublicSeed {
  dateIds: number[];
  /** slots seeded with reserved places, to be accounted for by private registrations */
  reservedSlots: SeededSlot[];
}

export async function seedPublicSchedule(
  sql: Connection,
  now: Date = new Date(),
): Promise<PublicSeed> {
  await seedDimTimes(sql);
  const seed: PublicSeed = { dateIds: [], reservedSlots: [] };
  for (const event of EVENTS) {
    const [e] = await sql.query<ResultSetHeader>(
      `INSERT INTO events (event_name, address1, city, state, zip, time_zone, status_publish_event,
         status_publish_event_dates, event_accept_walkin, event_accept_resesrvations, status_id)
       VALUES (?, ?, ?, 'OH', ?, 'America/New_York', 1, 1, 1, 1, 1)`,
      [event.name, event.address, event.city, event.zip],
    );
    for (const d of event.dates) {
      const slotReserved = d.slots?.reserved ?? [];
      const slotCapacity = d.slots?.capacity ?? 0;
      const reserved = slotReserved.reduce((a, b) => a + b, 0);
      const capacity = d.slots ? slotCapacity * slotReserved.length : 50;
      const [date] = await sql.query<ResultSetHeader>(
        `INSERT INTO event_dates (event_id, event_date_key, capacity, reserved, start_time_key, end_time_key,
           slot_length_minutes, status_publish, accept_walkin, accept_reservations, accept_interest,
           published_date_key, status_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, 1, 0, ?, 1)`,
        [
          e.insertId,
          dateKey(d.inDays, now),
          capacity,
          reserved,
          at(d.start),
          at(d.end),
          d.slots ? 15 : 60,
          dateKey(-7, now),
        ],
      );
      seed.dateIds.push(date.insertId);
      if (!d.slots) continue;
      const [hour] = await sql.query<ResultSetHeader>(
        `INSERT INTO event_hours (event_date_id, capacity, reserved, start_time_key, end_time_key, date_added, status_id)
         VALUES (?, ?, ?, ?, ?, NOW(), 1)`,
        [date.insertId, capacity, reserved, at(d.start), at(d.end)],
      );
      const [h, m] = d.start.split(':').map(Number);
      for (let i = 0; i < slotReserved.length; i++) {
        const start = h * 60 + m + i * 15;
        const [slot] = await sql.query<ResultSetHeader>(
          `INSERT INTO event_slots (event_hour_id, capacity, reserved, start_time_key, end_time_key, duration_minutes,
             date_added, status_id)
           VALUES (?, ?, ?, ?, ?, 15, NOW(), 1)`,
          [
            hour.insertId,
            slotCapacity,
            slotReserved[i],
            demoTimeKey(start),
            demoTimeKey(start + 15),
          ],
        );
        if (slotReserved[i] > 0) {
          seed.reservedSlots.push({
            eventId: e.insertId,
            eventDateId: date.insertId,
            eventHourId: hour.insertId,
            eventSlotId: slot.insertId,
            reserved: slotReserved[i],
          });
        }
      }
    }
  }
  return seed;
}

const FIRST_NAMES = [
  'Maria',
  'James',
  'Aisha',
  'Wei',
  'Carlos',
  'Fatima',
  'John',
  'Linh',
  'Rosa',
  'Samuel',
];
const LAST_NAMES = [
  'Garcia',
  'Johnson',
  'Okafor',
  'Chen',
  'Lopez',
  'Hassan',
  'Smith',
  'Nguyen',
  'Diaz',
  'Brown',
];

/**
 * Walk-in households with confirmed registrations for the places the public seed reserved, so
 * the counters and the private registrations agree (no drift for the backfill to report).
 */
export async function seedPrivateRegistrations(
  sql: Connection,
  slots: SeededSlot[],
): Promise<number> {
  let n = 0;
  for (const slot of slots) {
    for (let i = 0; i < slot.reserved; i++, n++) {
      const first = FIRST_NAMES[n % FIRST_NAMES.length];
      const last = LAST_NAMES[(n * 3) % LAST_NAMES.length];
      const [household] = await sql.query<ResultSetHeader>(
        "INSERT INTO households (created_by) VALUES ('demo-seed')",
      );
      const [member] = await sql.query<ResultSetHeader>(
        `INSERT INTO household_members (household_id, first_name, last_name, date_of_birth, is_head_of_household)
         VALUES (?, ?, ?, ?, 1)`,
        [household.insertId, first, last, `${1960 + (n % 40)}-0${1 + (n % 9)}-1${n % 10}`],
      );
      const [registration] = await sql.query<ResultSetHeader>(
        `INSERT INTO event_registrations (household_id, event_id, event_date_id, event_hour_id, event_slot_id, status,
           party_size, spots, created_by, confirmed_at)
         VALUES (?, ?, ?, ?, ?, 'confirmed', 1, 1, 'demo-seed', NOW(6))`,
        [household.insertId, slot.eventId, slot.eventDateId, slot.eventHourId, slot.eventSlotId],
      );
      await sql.query(
        'INSERT INTO event_registration_members (registration_id, member_id) VALUES (?, ?)',
        [registration.insertId, member.insertId],
      );
      await sql.query(
        `INSERT INTO registration_history (registration_id, event_date_id, at, actor, action, from_status, to_status,
           spots, event_slot_id)
         VALUES (?, ?, NOW(6), 'demo-seed', 'confirmed', NULL, 'confirmed', 1, ?)`,
        [registration.insertId, slot.eventDateId, slot.eventSlotId],
      );
    }
  }
  return n;
}

/** An upcoming published date, and its first slot with room when it has slots, for the sample curls. */
export async function sampleTarget(
  sql: Connection,
  now: Date = new Date(),
): Promise<{ dateId?: number; slotId?: number }> {
  const [dates] = await sql.query<RowDataPacket[]>(
    `SELECT d.event_date_id AS id FROM event_dates d JOIN events e ON e.event_id = d.event_id
      WHERE d.status_id = 1 AND d.status_publish = 1 AND d.accept_reservations = 1 AND e.status_id = 1
        AND e.status_publish_event = 1 AND d.event_date_key >= ?
      ORDER BY d.event_date_key, d.event_date_id LIMIT 1`,
    [dateKey(0, now)],
  );
  const dateId = dates[0] ? Number(dates[0].id) : undefined;
  if (dateId === undefined) return {};
  const [slots] = await sql.query<RowDataPacket[]>(
    `SELECT s.event_slot_id AS id FROM event_slots s JOIN event_hours h ON h.event_hour_id = s.event_hour_id
      WHERE h.event_date_id = ? AND h.status_id = 1 AND s.status_id = 1 AND s.reserved < s.capacity
      ORDER BY s.event_slot_id LIMIT 1`,
    [dateId],
  );
  return { dateId, slotId: slots[0] ? Number(slots[0].id) : undefined };
}
