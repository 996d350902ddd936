'use strict';

// 5: real-time fan-out. `pushSubscribers` socket.io clients watch one date, spread over two
// instances sharing Redis; then a rush (alternating instances). For every `availability`
// push: receipt time minus its `at`. Also: does every subscriber end on the final figures,
// and how long after the last HTTP answer.

const { Worker } = require('node:worker_threads');
const { join } = require('node:path');
const { Recorder, latencySummary, round } = require('../lib/stats');
const { createSlotDate } = require('../lib/setup');
const { warm } = require('../lib/http');
const { checkDate } = require('../lib/checks');
const { sleep } = require('../lib/server');
const { fire, outcomeCounts } = require('./rush');

function ask(worker, msg, key) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (key in m) {
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(m[key]);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.postMessage(msg);
  });
}

async function run(ctx) {
  const date = await createSlotDate(ctx.dbs.pub, {
    name: 'Push',
    hours: 1,
    slotsPerHour: 1,
    slotCapacity: ctx.rushCapacity,
  });
  const households = ctx.households.slice(0, ctx.rushHouseholds);
  households.forEach((h) => h.authorization);
  const worker = new Worker(join(__dirname, '..', 'lib', 'subscribers.js'));
  ctx.onCleanup(() => worker.terminate());
  try {
    const origins = ctx.servers.map((s) => s.origin);
    const ready = await ask(
      worker,
      { cmd: 'connect', origins, count: ctx.pushSubscribers, eventDateId: date.dateId },
      'ready',
    );
    ctx.log(`  ${ready.connected}/${ctx.pushSubscribers} subscribers ready`);
    await Promise.all(
      ctx.clients.map((c) => warm(c, Math.ceil(ctx.rushHouseholds / ctx.clients.length))),
    );
    for (const s of ctx.servers) s.resetPeak();
    const profile = ctx.measure('push');
    const rec = new Recorder();
    const results = await fire(ctx.clients, date, households, rec);
    const profileSummary = await profile.stop();
    const lastAnswer = performance.timeOrigin + rec.finished;
    // wait until the pushes stop (1 s quiet), at most 15 s
    const quietUntil = Date.now() + 15_000;
    while (Date.now() < quietUntil) {
      await sleep(250);
      const lastPush = await ask(worker, { cmd: 'lastPush' }, 'lastPush');
      if (lastPush > 0 && performance.timeOrigin + performance.now() - lastPush > 1000) break;
    }
    const clients = await ask(worker, { cmd: 'collect' }, 'result');
    await ask(worker, { cmd: 'close' }, 'closed');
    const checks = await checkDate(ctx.dbs, date.dateId);
    const finalReserved = checks.reserved;
    const delays = clients.flatMap((c) => c.delays);
    const pushes = clients.map((c) => c.received.length);
    const converged = clients.filter((c) => c.lastReserved === finalReserved).length;
    // The push's `at` is when the server started building it, after any coalescing wait. So
    // also, from the database: the k-th confirmation committed at T_k (its confirmed_at); when
    // did each subscriber first see reserved >= k? That includes the coalescing.
    const [confirmedRows] = await ctx.dbs.priv.query(
      'SELECT confirmed_at FROM event_registrations WHERE event_date_id = ? AND confirmed_at IS NOT NULL ORDER BY confirmed_at',
      [date.dateId],
    );
    const confirmedAt = confirmedRows.map((r) =>
      Date.parse(`${String(r.confirmed_at).replace(' ', 'T')}Z`),
    );
    const seenDelays = [];
    for (const c of clients) {
      let j = 0;
      for (let k = 1; k <= confirmedAt.length; k++) {
        while (j < c.reserved.length && !(c.reserved[j] >= k)) j++;
        if (j === c.reserved.length) break;
        // the public counter moves before confirmed_at is written: a push may beat it
        seenDelays.push(Math.max(0, c.received[j] - confirmedAt[k - 1]));
      }
    }
    const convergence = clients
      .filter((c) => c.received.length > 0)
      .map((c) => c.received[c.received.length - 1] - lastAnswer);
    return {
      subscribers: ctx.pushSubscribers,
      connected: ready.connected,
      connectErrors: ready.errors,
      http: { ...rec.summary(), outcomes: outcomeCounts(results) },
      pushDelayMs: latencySummary(delays),
      commitToSeenMs: latencySummary(seenDelays),
      pushesPerSubscriber: {
        min: Math.min(...pushes),
        avg: round(pushes.reduce((a, b) => a + b, 0) / Math.max(1, pushes.length)),
        max: Math.max(...pushes),
      },
      lastPushAfterLastAnswerMs: latencySummary(convergence),
      convergedSubscribers: converged,
      peakRssMb: Math.max(...ctx.servers.map((s) => s.peakRss)),
      rssAfterMb: Math.max(...ctx.servers.map((s) => s.rss() ?? 0)),
      checks: {
        ...checks,
        allConverged: converged === ready.connected && ready.connected === ctx.pushSubscribers,
      },
      profile: profileSummary,
    };
  } finally {
    await worker.terminate();
  }
}

module.exports = { run };
