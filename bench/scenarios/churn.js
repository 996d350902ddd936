'use strict';

// 3: churn on a full slot with a long waitlist. At once: every confirmed registration and
// some waitlisted ones are cancelled while new households register. Afterwards the slot is
// full again with exactly the oldest surviving waitlisted registrations, and every newcomer
// waits behind them.

const { Recorder } = require('../lib/stats');
const { createSlotDate } = require('../lib/setup');
const { send, warm } = require('../lib/http');
const { checkDate, waitlistOf, idsWithStatus, sagaStates } = require('../lib/checks');
const { sleep } = require('../lib/server');

async function inBatches(items, concurrency, fn, abort) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!abort.aborted && next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

async function run(ctx) {
  const capacity = ctx.churnCapacity;
  const waiting = ctx.churnWaitlist;
  const cancelWaitlisted = ctx.churnCancels - capacity;
  if (cancelWaitlisted < 0) throw new Error('churn: cancels must be at least the capacity');
  const date = await createSlotDate(ctx.dbs.pub, {
    name: 'Churn',
    hours: 1,
    slotsPerHour: 1,
    slotCapacity: capacity,
  });
  const slotId = date.slotIds[0];
  const body = JSON.stringify({ eventDateId: date.dateId, eventSlotId: slotId });
  const seeded = ctx.households.slice(0, capacity + waiting);
  const newcomers = ctx.households.slice(
    capacity + waiting,
    capacity + waiting + ctx.churnNewcomers,
  );
  const byHousehold = new Map(ctx.households.map((h) => [h.id, h]));

  // Untimed: fill the slot and its waitlist through the API.
  const setup = new Recorder();
  setup.start();
  await inBatches(
    seeded,
    16,
    (h) =>
      send(ctx.setupClient, {
        method: 'POST',
        path: '/api/v1/registrations',
        authorization: h.authorization,
        body,
        recorder: setup,
      }),
    ctx.abort,
  );
  setup.stop();
  const setupSummary = setup.summary();
  const confirmedBefore = await idsWithStatus(ctx.dbs, slotId, 'confirmed');
  const waitlistBefore = await waitlistOf(ctx.dbs, slotId);
  if (confirmedBefore.length !== capacity || waitlistBefore.length !== waiting) {
    return {
      skipped: `setup did not produce a full slot with a waitlist: ${confirmedBefore.length} confirmed, ${waitlistBefore.length} waitlisted`,
      setup: setupSummary,
    };
  }

  // Cancel every confirmed one and every k-th waitlisted one.
  const step = Math.max(1, Math.floor(waiting / Math.max(1, cancelWaitlisted)));
  const cancelledWaitlisted = waitlistBefore
    .filter((_, i) => i % step === 0)
    .slice(0, cancelWaitlisted);
  const [rows] = await ctx.dbs.priv.query(
    'SELECT id, household_id FROM event_registrations WHERE id IN (?)',
    [confirmedBefore],
  );
  const cancels = [
    ...rows.map((r) => ({ id: String(r.id), householdId: String(r.household_id) })),
    ...cancelledWaitlisted,
  ];
  const cancelledIds = new Set(cancels.map((c) => c.id));
  const expectedConfirmed = waitlistBefore
    .filter((w) => !cancelledIds.has(w.id))
    .slice(0, capacity)
    .map((w) => w.id);

  const ops = [];
  for (let i = 0; i < Math.max(cancels.length, newcomers.length); i++) {
    const c = cancels[i];
    if (c)
      ops.push({
        kind: 'cancel',
        method: 'DELETE',
        path: `/api/v1/registrations/${c.id}`,
        authorization: byHousehold.get(c.householdId).authorization,
      });
    const n = newcomers[i];
    if (n)
      ops.push({
        kind: 'register',
        method: 'POST',
        path: '/api/v1/registrations',
        authorization: n.authorization,
        body,
      });
  }
  await warm(ctx.client, ops.length);
  ctx.server.resetPeak();
  const profile = ctx.measure('churn');
  const rec = new Recorder();
  rec.start();
  const results = await Promise.all(
    ops.map((op) =>
      send(ctx.client, { ...op, idempotencyKey: true, recorder: rec }).then((r) => ({ op, r })),
    ),
  );
  rec.stop();
  const profileSummary = await profile.stop();
  const peakRssMb = ctx.server.peakRss;
  await sleep(500);

  const checks = await checkDate(ctx.dbs, date.dateId);
  const confirmedAfter = await idsWithStatus(ctx.dbs, slotId, 'confirmed');
  const newcomerIds = results
    .filter((x) => x.op.kind === 'register' && x.r.status === 201)
    .map((x) => String(x.r.body.id));
  const confirmedSet = new Set(confirmedAfter);
  const cancelResponses = results.filter((x) => x.op.kind === 'cancel');
  checks.confirmedEqualsCapacity = confirmedAfter.length === capacity;
  const expectedSet = new Set(expectedConfirmed);
  checks.promotedInOrder =
    confirmedAfter.length === expectedConfirmed.length &&
    expectedConfirmed.every((id) => confirmedSet.has(id));
  // the oldest survivors that were passed over, and who got their seats instead
  checks.passedOver = expectedConfirmed.filter((id) => !confirmedSet.has(id)).length;
  const newcomerSet = new Set(newcomerIds);
  checks.newcomersConfirmed = confirmedAfter.filter((id) => newcomerSet.has(id)).length;
  checks.youngerWaitlistedConfirmed = confirmedAfter.filter(
    (id) => !expectedSet.has(id) && !newcomerSet.has(id),
  ).length;
  checks.newcomersAllWaitlisted =
    newcomerIds.length === newcomers.length && checks.newcomersConfirmed === 0;
  checks.cancelsAnswered = cancelResponses.filter(
    (x) => x.r.status === 200 && x.r.body?.status === 'cancelled',
  ).length;
  checks.cancelledInDb = (checks.statuses.cancelled ?? 0) === cancels.length;
  checks.sagas = await sagaStates(ctx.dbs, date.dateId);
  checks.ok =
    checks.countersExact &&
    checks.neverAboveCapacity &&
    checks.confirmedEqualsCapacity &&
    checks.promotedInOrder &&
    checks.newcomersAllWaitlisted &&
    checks.cancelledInDb &&
    checks.waitlistInOrder;
  const byKind = (kind) => {
    const r = new Recorder();
    r.started = rec.started;
    r.finished = rec.finished;
    for (const x of results.filter((y) => y.op.kind === kind))
      r.record(x.r.ms, x.r.status, x.r.code);
    return r.summary();
  };
  return {
    ...rec.summary(),
    cancels: byKind('cancel'),
    registers: byKind('register'),
    setup: setupSummary,
    shape: {
      capacity,
      waitlist: waiting,
      cancelConfirmed: capacity,
      cancelWaitlisted: cancelledWaitlisted.length,
      newcomers: newcomers.length,
    },
    peakRssMb,
    rssAfterMb: ctx.server.rss(),
    checks,
    profile: profileSummary,
  };
}

module.exports = { run };
