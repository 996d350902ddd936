'use strict';

// 2: a steady morning. `spreadClients` clients register distinct households across 200
// slots of one date for `spreadSeconds`.

const { Recorder } = require('../lib/stats');
const { createSlotDate } = require('../lib/setup');
const { send, warm } = require('../lib/http');
const { checkDate, sagaStates } = require('../lib/checks');
const { sleep } = require('../lib/server');

async function run(ctx) {
  const date = await createSlotDate(ctx.dbs.pub, {
    name: 'Spread',
    hours: 10,
    slotsPerHour: 20,
    slotCapacity: ctx.spreadSlotCapacity,
  });
  await warm(ctx.client, ctx.spreadClients);
  ctx.server.resetPeak();
  const profile = ctx.measure('spread');
  const rec = new Recorder();
  let next = 0;
  const deadline = performance.now() + ctx.spreadSeconds * 1000;
  rec.start();
  await Promise.all(
    Array.from({ length: ctx.spreadClients }, async () => {
      while (!ctx.abort.aborted && performance.now() < deadline && next < ctx.households.length) {
        const i = next++;
        const h = ctx.households[i];
        await send(ctx.client, {
          method: 'POST',
          path: '/api/v1/registrations',
          authorization: h.authorization,
          body: { eventDateId: date.dateId, eventSlotId: date.slotIds[i % date.slotIds.length] },
          idempotencyKey: true,
          recorder: rec,
        });
      }
    }),
  );
  rec.stop();
  const profileSummary = await profile.stop();
  const peakRssMb = ctx.server.peakRss;
  await sleep(500);
  const checks = await checkDate(ctx.dbs, date.dateId);
  checks.sagas = await sagaStates(ctx.dbs, date.dateId);
  return {
    ...rec.summary(),
    exhaustedHouseholds: next >= ctx.households.length,
    peakRssMb,
    rssAfterMb: ctx.server.rss(),
    checks,
    profile: profileSummary,
  };
}

module.exports = { run };
