'use strict';

// 1: the 9:00 rush. `rushHouseholds` distinct households press "register" at the same
// instant for one slot of `rushCapacity`; the rest join the waitlist.

const { Recorder } = require('../lib/stats');
const { createSlotDate } = require('../lib/setup');
const { send, warm } = require('../lib/http');
const { checkDate, sagaStates } = require('../lib/checks');
const { sleep } = require('../lib/server');

/** Fires one registration per household, all at once, spread round-robin over `clients`. */
async function fire(clients, date, households, recorder) {
  const body = JSON.stringify({ eventDateId: date.dateId, eventSlotId: date.slotIds[0] });
  const requests = households.map((h, i) => ({
    client: clients[i % clients.length],
    authorization: h.authorization,
  }));
  recorder.start();
  const results = await Promise.all(
    requests.map((r) =>
      send(r.client, {
        method: 'POST',
        path: '/api/v1/registrations',
        authorization: r.authorization,
        body,
        idempotencyKey: true,
        recorder,
      }),
    ),
  );
  recorder.stop();
  return results;
}

function outcomeCounts(results) {
  const counts = {};
  for (const r of results) {
    const key = r.status === 201 ? (r.body?.status ?? 'unknown') : `http_${r.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function run(ctx) {
  const date = await createSlotDate(ctx.dbs.pub, {
    name: 'Rush',
    hours: 1,
    slotsPerHour: 1,
    slotCapacity: ctx.rushCapacity,
  });
  const households = ctx.households.slice(0, ctx.rushHouseholds);
  households.forEach((h) => h.authorization); // sign the tokens before the clock starts
  await warm(ctx.client, ctx.rushHouseholds);
  ctx.server.resetPeak();
  const profile = ctx.measure('rush');
  const rec = new Recorder();
  const results = await fire([ctx.client], date, households, rec);
  const profileSummary = await profile.stop();
  const peakRssMb = ctx.server.peakRss;
  await sleep(1000);
  const rssAfterMb = ctx.server.rss();
  // and once the 1,000 clients have hung up
  await ctx.reconnect();
  await sleep(2000);
  const rssAfterCloseMb = ctx.server.rss();
  const memory = await ctx.server.memory();
  await sleep(500);
  if (memory) memory.rssAfterGcMb = ctx.server.rss();
  const checks = await checkDate(ctx.dbs, date.dateId);
  const outcomes = outcomeCounts(results);
  checks.confirmedEqualsCapacity = (checks.statuses.confirmed ?? 0) === ctx.rushCapacity;
  checks.responsesAgreeWithDb = (outcomes.confirmed ?? 0) === (checks.statuses.confirmed ?? 0);
  checks.sagas = await sagaStates(ctx.dbs, date.dateId);
  return {
    ...rec.summary(),
    outcomes,
    peakRssMb,
    rssAfterMb,
    rssAfterCloseMb,
    memory,
    checks,
    profile: profileSummary,
  };
}

module.exports = { run, fire, outcomeCounts };
