'use strict';

// Correctness read back from the databases after a scenario.

const HOLDS = new Set(['confirmed', 'checked_in']);

/**
 * For one date: every public counter (slot, hour, date) against the sum of `spots` of the
 * registrations that hold capacity under it, capacity never exceeded, status counts, and
 * the waitlist of each target: queued_at is the arrival (createdAt), and every waitlisted
 * registration holds a place of its own (queue_place, handed out in commit order).
 */
async function checkDate(dbs, dateId, { settleMs = 30_000 } = {}) {
  const settled = await settle(dbs, dateId, settleMs);
  const [[date]] = await dbs.pub.query(
    'SELECT capacity, reserved FROM event_dates WHERE event_date_id = ?',
    [dateId],
  );
  const [hours] = await dbs.pub.query(
    'SELECT event_hour_id AS id, capacity, reserved FROM event_hours WHERE event_date_id = ?',
    [dateId],
  );
  const hourIds = hours.map((h) => h.id);
  const [slots] = hourIds.length
    ? await dbs.pub.query(
        'SELECT event_slot_id AS id, event_hour_id, capacity, reserved FROM event_slots WHERE event_hour_id IN (?)',
        [hourIds],
      )
    : [[]];
  const [regs] = await dbs.priv.query(
    `SELECT id, event_hour_id, event_slot_id, status, spots, queued_at, created_at, queue_place
       FROM event_registrations WHERE event_date_id = ? ORDER BY id`,
    [dateId],
  );

  const expected = { slot: new Map(), hour: new Map(), date: 0 };
  const statuses = {};
  const waitlists = new Map();
  for (const r of regs) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (HOLDS.has(r.status)) {
      const spots = Number(r.spots);
      expected.date += spots;
      if (r.event_slot_id !== null)
        expected.slot.set(r.event_slot_id, (expected.slot.get(r.event_slot_id) ?? 0) + spots);
      if (r.event_hour_id !== null)
        expected.hour.set(r.event_hour_id, (expected.hour.get(r.event_hour_id) ?? 0) + spots);
    }
    if (r.status === 'waitlisted') {
      const target = r.event_slot_id ?? 'date';
      if (!waitlists.has(target)) waitlists.set(target, []);
      waitlists.get(target).push(r);
    }
  }

  const mismatches = [];
  const overCapacity = [];
  const compare = (level, row, want) => {
    if (Number(row.reserved) !== want)
      mismatches.push({ level, id: row.id, reserved: Number(row.reserved), expected: want });
    if (Number(row.reserved) > Number(row.capacity) || want > Number(row.capacity)) {
      overCapacity.push({
        level,
        id: row.id,
        capacity: Number(row.capacity),
        reserved: Number(row.reserved),
        held: want,
      });
    }
  };
  for (const s of slots) compare('slot', s, expected.slot.get(s.id) ?? 0);
  for (const h of hours) compare('hour', h, expected.hour.get(h.id) ?? 0);
  compare('date', { ...date, id: dateId }, expected.date);

  // Arrival order: the queue is ordered by queued_at, then id, and queued_at must be the
  // registration's arrival (its createdAt, which clients see). Ids alone are not arrival order:
  // under concurrency InnoDB can hand an id to a row whose createdAt is later than the next one's.
  // The queue itself is ordered by queue_place: no two registrations of a target may share one.
  let waitlistInversions = 0;
  let missingQueuedAt = 0;
  let sharedPlaces = 0;
  for (const list of waitlists.values()) {
    const places = new Set();
    for (const r of list) {
      if (r.queued_at === null || r.queue_place === null) missingQueuedAt++;
      else if (new Date(r.queued_at).getTime() !== new Date(r.created_at).getTime())
        waitlistInversions++;
      if (r.queue_place !== null) {
        if (places.has(String(r.queue_place))) sharedPlaces++;
        places.add(String(r.queue_place));
      }
    }
  }

  return {
    dateId,
    settled,
    registrations: regs.length,
    statuses,
    capacity: Number(date.capacity),
    reserved: Number(date.reserved),
    countersExact: mismatches.length === 0,
    neverAboveCapacity: overCapacity.length === 0,
    waitlistInOrder: waitlistInversions === 0 && missingQueuedAt === 0 && sharedPlaces === 0,
    waitlistInversions,
    missingQueuedAt,
    sharedPlaces,
    pending: statuses.pending ?? 0,
    mismatches: mismatches.slice(0, 20),
    mismatchCount: mismatches.length,
    overCapacity: overCapacity.slice(0, 20),
  };
}

/**
 * Waits (up to `limitMs`) until no registration of the date is pending or owned by a saga in
 * flight, e.g. requests the client gave up on, so the counters are compared at rest.
 */
async function settle(dbs, dateId, limitMs) {
  const t0 = Date.now();
  for (;;) {
    const [[{ n }]] = await dbs.priv.query(
      "SELECT COUNT(*) AS n FROM event_registrations WHERE event_date_id = ? AND (status = 'pending' OR pending_saga_id IS NOT NULL)",
      [dateId],
    );
    if (Number(n) === 0) return { ms: Date.now() - t0, inFlight: 0 };
    if (Date.now() - t0 > limitMs) return { ms: Date.now() - t0, inFlight: Number(n) };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The waitlist of one slot in promotion order (its queue places). */
async function waitlistOf(dbs, slotId) {
  const [rows] = await dbs.priv.query(
    "SELECT id, household_id FROM event_registrations WHERE event_slot_id = ? AND status = 'waitlisted' ORDER BY queue_place",
    [slotId],
  );
  return rows.map((r) => ({ id: String(r.id), householdId: String(r.household_id) }));
}

async function idsWithStatus(dbs, slotId, status) {
  const [rows] = await dbs.priv.query(
    'SELECT id FROM event_registrations WHERE event_slot_id = ? AND status = ? ORDER BY id',
    [slotId, status],
  );
  return rows.map((r) => String(r.id));
}

/** Sagas of a date that are not finished, by state: work left behind for recovery. */
async function sagaStates(dbs, dateId) {
  try {
    const [rows] = await dbs.priv.query(
      'SELECT state, COUNT(*) AS n FROM registration_sagas WHERE event_date_id = ? GROUP BY state',
      [dateId],
    );
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  } catch {
    return {};
  }
}

module.exports = { checkDate, waitlistOf, idsWithStatus, sagaStates };
