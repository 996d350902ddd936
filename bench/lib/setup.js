'use strict';

// Scratch databases and the rows the scenarios start from: public schedule (dim_times with
// opaque keys, events, dates, hours, slots) and private households with their accounts.

const { randomBytes, randomInt } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const mysql = require('mysql2/promise');
const jwt = require('jsonwebtoken');

const ROOT = join(__dirname, '..', '..');

const SERVER = {
  host: process.env.BENCH_DB_HOST ?? '127.0.0.1',
  port: Number(process.env.BENCH_DB_PORT ?? 3306),
  user: process.env.BENCH_DB_USER ?? 'root',
  password: process.env.BENCH_DB_PASSWORD ?? '',
};

function dbUrl(database) {
  const auth = SERVER.password
    ? `${SERVER.user}:${encodeURIComponent(SERVER.password)}`
    : SERVER.user;
  return `mysql://${auth}@${SERVER.host}:${SERVER.port}/${database}`;
}

/** Creates ft_bench_<suffix>_pub (schema loaded) and ft_bench_<suffix>_priv (migrated with `dist`'s migrations). */
async function createDatabases(dist, onCreated) {
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const publicName = `ft_bench_${suffix}_pub`;
  const privateName = `ft_bench_${suffix}_priv`;
  const dbs = {
    suffix,
    publicName,
    privateName,
    publicUrl: dbUrl(publicName),
    privateUrl: dbUrl(privateName),
    async drop() {
      const conn = await mysql.createConnection(SERVER);
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${publicName}\``);
        await conn.query(`DROP DATABASE IF EXISTS \`${privateName}\``);
      } finally {
        await conn.end();
      }
    },
  };
  // registered before anything is created, so a failure half-way still drops what exists
  onCreated(dbs);
  const admin = await mysql.createConnection({ ...SERVER, multipleStatements: true });
  try {
    await admin.query(
      `CREATE DATABASE \`${publicName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    await admin.query(`USE \`${publicName}\``);
    await admin.query(readFileSync(join(ROOT, 'db', 'public', 'schema.sql'), 'utf8'));
    // Ids far from 1: instances of other test runs share Redis, and their pushes for
    // "event date 1" must not reach our subscribers.
    const base = 1_000_000 + randomInt(0, 1_000_000) * 100;
    for (const table of ['events', 'event_dates', 'event_hours', 'event_slots']) {
      await admin.query(`ALTER TABLE \`${table}\` AUTO_INCREMENT = ${base}`);
    }
  } finally {
    await admin.end();
  }
  const { migratePrivate } = require(join(dist, 'database', 'migrate.js'));
  await migratePrivate({ ...SERVER, database: privateName });
  dbs.pub = mysql.createPool({
    ...SERVER,
    database: publicName,
    connectionLimit: 4,
    timezone: 'Z',
    dateStrings: true,
  });
  dbs.priv = mysql.createPool({
    ...SERVER,
    database: privateName,
    connectionLimit: 4,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  dbs.closePools = async () => {
    await Promise.allSettled([dbs.pub.end(), dbs.priv.end()]);
  };
  return dbs;
}

// Opaque time keys, deliberately not minute numbers.
const timeKey = (minute) => 7000 + minute * 3;
const hhmm = (minute) =>
  `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

async function seedDimTimes(pub) {
  const rows = [];
  for (let minute = 0; minute < 24 * 60; minute++) {
    const h = Math.floor(minute / 60);
    const m = minute % 60;
    const h12 = h % 12 === 0 ? 12 : h % 12;
    const mm = String(m).padStart(2, '0');
    rows.push([
      timeKey(minute),
      minute,
      h,
      `${h12}:${mm}`,
      h < 12 ? 'AM' : 'PM',
      hhmm(minute).replace(':', ''),
      `${hhmm(minute)}:00`,
    ]);
  }
  await pub.query(
    'INSERT INTO dim_times (time_key, minute_of_day, hour_of_day, short_time, AM_PM, military_time, mysql_time) VALUES ?',
    [rows],
  );
}

function dateKeyFromToday(offsetDays) {
  const d = new Date(Date.now() + offsetDays * 86_400_000);
  return Number(d.toISOString().slice(0, 10).replace(/-/g, ''));
}

/**
 * A published, bookable date a week ahead: `hours` hours starting 08:00, each with
 * `slotsPerHour` slots of `slotCapacity`. Hour and date capacities are the sums, so the slot
 * is the binding counter. Returns the ids, slots in time order.
 */
async function createSlotDate(pub, { name, hours, slotsPerHour, slotCapacity, dayOffset = 7 }) {
  const [event] = await pub.query(
    `INSERT INTO events (event_name, zip, status_publish_event, status_publish_event_dates,
       event_accept_resesrvations, status_id) VALUES (?, '43215', 1, 1, 1, 1)`,
    [name],
  );
  const slotMinutes = Math.max(1, Math.floor(60 / slotsPerHour));
  const startMinute = 8 * 60;
  const [date] = await pub.query(
    `INSERT INTO event_dates (event_id, event_date_key, capacity, reserved, start_time_key, end_time_key,
       status_publish, accept_walkin, accept_reservations, accept_interest, published_date_key,
       published_end_datetime, status_id)
     VALUES (?, ?, ?, 0, ?, ?, 1, 0, 1, 0, ?, NULL, 1)`,
    [
      event.insertId,
      dateKeyFromToday(dayOffset),
      hours * slotsPerHour * slotCapacity,
      timeKey(startMinute),
      timeKey(startMinute + hours * 60),
      dateKeyFromToday(-30),
    ],
  );
  const result = {
    name,
    eventId: event.insertId,
    dateId: date.insertId,
    hours: [],
    slotIds: [],
    hourOfSlot: {},
    slotCapacity,
  };
  for (let h = 0; h < hours; h++) {
    const hourStart = startMinute + h * 60;
    const [hour] = await pub.query(
      `INSERT INTO event_hours (event_date_id, capacity, reserved, start_time_key, end_time_key, status_id)
       VALUES (?, ?, 0, ?, ?, 1)`,
      [date.insertId, slotsPerHour * slotCapacity, timeKey(hourStart), timeKey(hourStart + 60)],
    );
    const rows = [];
    for (let s = 0; s < slotsPerHour; s++) {
      const from = hourStart + s * slotMinutes;
      rows.push([
        hour.insertId,
        slotCapacity,
        0,
        timeKey(from),
        timeKey(from + slotMinutes),
        slotMinutes,
        1,
      ]);
    }
    await pub.query(
      'INSERT INTO event_slots (event_hour_id, capacity, reserved, start_time_key, end_time_key, duration_minutes, status_id) VALUES ?',
      [rows],
    );
    const [slots] = await pub.query(
      'SELECT event_slot_id FROM event_slots WHERE event_hour_id = ? ORDER BY start_time_key',
      [hour.insertId],
    );
    const slotIds = slots.map((r) => r.event_slot_id);
    result.hours.push({ hourId: hour.insertId, slotIds });
    for (const id of slotIds) {
      result.slotIds.push(id);
      result.hourOfSlot[id] = hour.insertId;
    }
  }
  return result;
}

/**
 * `count` households, each with one head-of-household member and an account whose sub is
 * unique, inserted straight into the private tables (the HTTP route is exercised separately).
 */
async function createHouseholds(priv, count, runId, secret) {
  const households = [];
  const chunk = 2000;
  for (let from = 0; from < count; from += chunk) {
    const n = Math.min(chunk, count - from);
    const subs = Array.from({ length: n }, (_, i) => `bench-${runId}-${from + i}`);
    const conn = await priv.getConnection();
    try {
      await conn.query('START TRANSACTION');
      const [h] = await conn.query('INSERT INTO households (created_by) VALUES ?', [
        subs.map((s) => [s]),
      ]);
      const [rows] = await conn.query(
        'SELECT id, created_by FROM households WHERE id >= ? ORDER BY id LIMIT ?',
        [h.insertId, n],
      );
      const idOf = new Map(rows.map((r) => [r.created_by, String(r.id)]));
      const ids = subs.map((s) => {
        const id = idOf.get(s);
        if (!id) throw new Error(`household of ${s} was not found after the insert`);
        return id;
      });
      await conn.query('INSERT INTO accounts (sub, household_id) VALUES ?', [
        subs.map((s, i) => [s, ids[i]]),
      ]);
      await conn.query(
        'INSERT INTO household_members (household_id, first_name, last_name, date_of_birth, is_head_of_household) VALUES ?',
        [ids.map((id, i) => [id, 'Bench', `Household${from + i}`, '1980-01-01', 1])],
      );
      await conn.query('COMMIT');
      subs.forEach((sub, i) => households.push(new Household(sub, ids[i], secret)));
    } catch (error) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      conn.release();
    }
  }
  return households;
}

class Household {
  constructor(sub, id, secret) {
    this.sub = sub;
    this.id = id;
    this.secret = secret;
    this.cached = undefined;
  }

  get authorization() {
    this.cached ??= `Bearer ${token(this.sub, this.secret)}`;
    return this.cached;
  }
}

function token(sub, secret, roles = ['participant']) {
  return jwt.sign({ sub, roles }, secret, { algorithm: 'HS256', expiresIn: 4 * 3600 });
}

module.exports = {
  SERVER,
  createDatabases,
  seedDimTimes,
  createSlotDate,
  createHouseholds,
  Household,
  token,
  timeKey,
};
