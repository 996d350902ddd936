'use strict';

// 4: everyone refreshing the page. `readClients` clients GET one date of 40 slots.

const { Recorder } = require('../lib/stats');
const { createSlotDate } = require('../lib/setup');
const { send, warm } = require('../lib/http');

async function run(ctx) {
  const date = await createSlotDate(ctx.dbs.pub, {
    name: 'Reads',
    hours: 4,
    slotsPerHour: 10,
    slotCapacity: 10,
  });
  const path = `/api/v1/event-dates/${date.dateId}`;
  const first = await send(ctx.client, { path });
  const slotCount = (first.body?.hours ?? []).reduce((n, h) => n + (h.slots?.length ?? 0), 0);
  await warm(ctx.client, ctx.readClients);
  ctx.server.resetPeak();
  const profile = ctx.measure('reads');
  const rec = new Recorder();
  const deadline = performance.now() + ctx.readSeconds * 1000;
  rec.start();
  await Promise.all(
    Array.from({ length: ctx.readClients }, async () => {
      while (performance.now() < deadline && !ctx.abort.aborted)
        await send(ctx.client, { path, recorder: rec });
    }),
  );
  rec.stop();
  return {
    ...rec.summary(),
    peakRssMb: ctx.server.peakRss,
    rssAfterMb: ctx.server.rss(),
    checks: {
      firstStatus: first.status,
      slotsInBody: slotCount,
      shapeOk: first.status === 200 && slotCount === 40,
    },
    profile: await profile.stop(),
  };
}

module.exports = { run };
