'use strict';

// The physical limit: what MariaDB itself allows for a registration, with no HTTP, no Nest
// and no saga. Per op: one public transaction of conditional increments (slot, hour, date,
// in the server's lock order), then one INSERT of the registration row in the private
// database. Pools are sized like the server's.

const mysql = require('mysql2/promise');
const { Recorder } = require('../lib/stats');
const { createSlotDate } = require('../lib/setup');
const { checkDate } = require('../lib/checks');

const INCREMENTS = [
  ['event_slots', 'event_slot_id'],
  ['event_hours', 'event_hour_id'],
  ['event_dates', 'event_date_id'],
];

function pools(ctx) {
  const common = {
    ...ctx.dbServer,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    waitForConnections: true,
    queueLimit: 0,
  };
  return {
    pub: mysql.createPool({
      ...common,
      database: ctx.dbs.publicName,
      connectionLimit: ctx.publicPoolSize,
    }),
    priv: mysql.createPool({
      ...common,
      database: ctx.dbs.privateName,
      connectionLimit: ctx.privatePoolSize,
    }),
  };
}

async function register(p, date, slotId, household, recorder) {
  const t0 = performance.now();
  let status = 201;
  let code;
  try {
    const ids = [slotId, date.hourOfSlot[slotId], date.dateId];
    const conn = await p.pub.getConnection();
    let taken = true;
    try {
      await conn.query('START TRANSACTION');
      for (let i = 0; i < INCREMENTS.length; i++) {
        const [table, key] = INCREMENTS[i];
        const [r] = await conn.query(
          `UPDATE ${table} SET reserved = reserved + 1 WHERE ${key} = ? AND reserved + 1 <= capacity`,
          [ids[i]],
        );
        if (r.affectedRows !== 1) {
          taken = false;
          break;
        }
      }
      await conn.query(taken ? 'COMMIT' : 'ROLLBACK');
    } finally {
      conn.release();
    }
    await p.priv.query(
      `INSERT INTO event_registrations (household_id, event_id, event_date_id, event_hour_id, event_slot_id, status,
         party_size, spots, queued_at, created_by, confirmed_at)
       VALUES (?, ?, ?, ?, ?, ?, 1, 1, NOW(6), ?, ?)`,
      [
        household.id,
        date.eventId,
        date.dateId,
        ids[1],
        slotId,
        taken ? 'confirmed' : 'waitlisted',
        household.sub,
        taken ? new Date() : null,
      ],
    );
  } catch (error) {
    status = 500;
    code = error.code;
  }
  recorder.record(performance.now() - t0, status, code);
}

async function ceilingRush(ctx, p) {
  const date = await createSlotDate(ctx.dbs.pub, {
    name: 'Ceiling rush',
    hours: 1,
    slotsPerHour: 1,
    slotCapacity: ctx.rushCapacity,
  });
  const households = ctx.households.slice(0, ctx.rushHouseholds);
  // open every connection first, as the server's pools are open before 9:00
  await Promise.all([...Array(ctx.publicPoolSize)].map(() => p.pub.query('SELECT 1')));
  await Promise.all([...Array(ctx.privatePoolSize)].map(() => p.priv.query('SELECT 1')));
  const profile = ctx.measure('ceiling-rush', { cpu: false });
  const rec = new Recorder();
  rec.start();
  await Promise.all(households.map((h) => register(p, date, date.slotIds[0], h, rec)));
  rec.stop();
  return {
    ...rec.summary(),
    checks: await checkDate(ctx.dbs, date.dateId),
    profile: await profile.stop(),
  };
}

async function ceilingSpread(ctx, p) {
  const date = await createSlotDate(ctx.dbs.pub, {
    name: 'Ceiling spread',
    hours: 10,
    slotsPerHour: 20,
    slotCapacity: ctx.spreadSlotCapacity,
  });
  const profile = ctx.measure('ceiling-spread', { cpu: false });
  const rec = new Recorder();
  let next = 0;
  const deadline = performance.now() + ctx.ceilingSeconds * 1000;
  rec.start();
  await Promise.all(
    Array.from({ length: ctx.spreadClients }, async () => {
      while (!ctx.abort.aborted && performance.now() < deadline && next < ctx.households.length) {
        const i = next++;
        await register(p, date, date.slotIds[i % date.slotIds.length], ctx.households[i], rec);
      }
    }),
  );
  rec.stop();
  return {
    ...rec.summary(),
    profile: await profile.stop(),
    exhaustedHouseholds: next >= ctx.households.length,
    checks: await checkDate(ctx.dbs, date.dateId),
  };
}

/** Runs one shape ('rush' or 'spread') on its own pools, sized like the server's. */
async function runShape(ctx, shape) {
  const p = pools(ctx);
  try {
    const result = shape === 'rush' ? await ceilingRush(ctx, p) : await ceilingSpread(ctx, p);
    ctx.log(`  ceiling ${shape}: ${result.throughput} ops/s, p99 ${result.latencyMs.p99} ms`);
    return result;
  } finally {
    await Promise.allSettled([p.pub.end(), p.priv.end()]);
  }
}

module.exports = { runShape };
