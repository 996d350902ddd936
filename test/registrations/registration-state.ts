import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { TestDatabases } from '../support/databases';
import { counterDrift } from '../support/households';

// What the property, concurrency and failpoint suites read back from both databases after a
// step, and the invariants they hold it to. Each check returns the list of what is wrong, so a
// failure names the registration or counter that broke it.

export type Level = 'slot' | 'hour' | 'date';

export interface Target {
  eventDateId: number;
  eventHourId: number | null;
  eventSlotId: number | null;
}

export interface RegRow extends Target {
  id: string;
  householdId: string;
  status: string;
  spots: number;
  partySize: number;
  pendingSagaId: string | null;
  version: number;
  queuedAt: string | null;
  /** place in its target's waitlist (commit order); null unless waitlisted */
  queuePlace: number | null;
  memberIds: string[];
}

export interface Counter {
  level: Level;
  id: number;
  capacity: number;
  reserved: number;
}

export interface DateState {
  regs: RegRow[];
  counters: Counter[];
}

export const counterKey = (level: Level, id: number): string => `${level}:${id}`;

/** The counters a registration target occupies: its slot and hour (slot bookings) and the date. */
export function countersOfTarget(t: Target): string[] {
  const keys: string[] = [];
  if (t.eventSlotId !== null) keys.push(counterKey('slot', t.eventSlotId));
  if (t.eventSlotId !== null && t.eventHourId !== null)
    keys.push(counterKey('hour', t.eventHourId));
  keys.push(counterKey('date', t.eventDateId));
  return keys;
}

export const targetKey = (t: Target): string => `${t.eventDateId}/${t.eventSlotId ?? '-'}`;

export async function readState(dbs: TestDatabases, dateId: number): Promise<DateState> {
  const [rows] = await dbs.privateSql.query<RowDataPacket[]>(
    `SELECT r.id, r.household_id, r.event_date_id, r.event_hour_id, r.event_slot_id, r.status, r.spots,
            r.party_size, r.pending_saga_id, r.version, DATE_FORMAT(r.queued_at, '%Y-%m-%d %H:%i:%s.%f') AS queued_at,
            r.queue_place,
            (SELECT GROUP_CONCAT(m.member_id ORDER BY m.member_id) FROM event_registration_members m
              WHERE m.registration_id = r.id) AS member_ids
       FROM event_registrations r WHERE r.event_date_id = ? ORDER BY r.id`,
    [dateId],
  );
  const regs: RegRow[] = rows.map((r) => ({
    id: String(r.id),
    householdId: String(r.household_id),
    eventDateId: Number(r.event_date_id),
    eventHourId: r.event_hour_id === null ? null : Number(r.event_hour_id),
    eventSlotId: r.event_slot_id === null ? null : Number(r.event_slot_id),
    status: String(r.status),
    spots: Number(r.spots),
    partySize: Number(r.party_size),
    pendingSagaId: r.pending_saga_id === null ? null : String(r.pending_saga_id),
    version: Number(r.version),
    queuedAt: r.queued_at === null ? null : String(r.queued_at),
    queuePlace: r.queue_place === null ? null : Number(r.queue_place),
    memberIds: r.member_ids ? String(r.member_ids).split(',') : [],
  }));
  return { regs, counters: await readCounters(dbs.publicSql, dateId) };
}

export async function readCounters(publicSql: Connection, dateId: number): Promise<Counter[]> {
  const [slots] = await publicSql.query<RowDataPacket[]>(
    `SELECT s.event_slot_id AS id, s.capacity, s.reserved FROM event_slots s
       JOIN event_hours h ON h.event_hour_id = s.event_hour_id WHERE h.event_date_id = ? ORDER BY s.event_slot_id`,
    [dateId],
  );
  const [hours] = await publicSql.query<RowDataPacket[]>(
    'SELECT event_hour_id AS id, capacity, reserved FROM event_hours WHERE event_date_id = ? ORDER BY event_hour_id',
    [dateId],
  );
  const [dates] = await publicSql.query<RowDataPacket[]>(
    'SELECT event_date_id AS id, capacity, reserved FROM event_dates WHERE event_date_id = ?',
    [dateId],
  );
  const of = (level: Level, rows: RowDataPacket[]): Counter[] =>
    rows.map((r) => ({
      level,
      id: Number(r.id),
      capacity: Number(r.capacity),
      reserved: Number(r.reserved),
    }));
  return [...of('slot', slots), ...of('hour', hours), ...of('date', dates)];
}

export function counterMap(state: DateState): Map<string, Counter> {
  return new Map(state.counters.map((c) => [counterKey(c.level, c.id), c]));
}

/** The room left on a target: the least capacity - reserved over its counters (may be negative). */
export function roomOf(state: DateState, t: Target): number {
  const counters = counterMap(state);
  return Math.min(
    ...countersOfTarget(t).map((k) => counters.get(k)!.capacity - counters.get(k)!.reserved),
  );
}

export const holds = (r: RegRow): boolean => r.status === 'confirmed' || r.status === 'checked_in';

/**
 * A cancel frees exactly its spots: every counter moved by minus the cancelled registration's
 * spots (under its target, when it held them) plus the spots of what was promoted under it.
 */
export function cancelFreesItsSpots(before: DateState, after: DateState, r: RegRow): string[] {
  const was = new Map(before.regs.map((x) => [x.id, x]));
  const promoted = after.regs.filter(
    (x) => was.get(x.id)?.status === 'waitlisted' && x.status === 'confirmed',
  );
  const prev = counterMap(before);
  const problems: string[] = [];
  for (const c of after.counters) {
    const key = counterKey(c.level, c.id);
    const freed = holds(r) && countersOfTarget(r).includes(key) ? r.spots : 0;
    const taken = promoted
      .filter((p) => countersOfTarget(p).includes(key))
      .reduce((a, p) => a + p.spots, 0);
    const moved = c.reserved - prev.get(key)!.reserved;
    if (moved !== taken - freed)
      problems.push(`${key} moved ${moved}, expected -${freed} +${taken}`);
  }
  return problems;
}

/** (b) every public counter equals the spots held under it; over-capacity is judged by (a). */
export async function drift(dbs: TestDatabases, dateId: number): Promise<string[]> {
  const problems = await counterDrift(dbs.publicSql, dbs.privateSql, dateId);
  return problems.filter((p) => !p.endsWith('over capacity'));
}

/**
 * (a) a counter never takes on confirmed spots beyond its capacity: whenever a step raised a
 * counter's reserved, it is within capacity afterwards. (The owner may lower a capacity under
 * what is already reserved; then it may only go down until room appears.)
 */
export function capacityRespected(before: DateState, after: DateState): string[] {
  const prev = counterMap(before);
  return after.counters
    .filter(
      (c) =>
        c.reserved > (prev.get(counterKey(c.level, c.id))?.reserved ?? 0) &&
        c.reserved > c.capacity,
    )
    .map((c) => `${c.level} ${c.id}: reserved rose to ${c.reserved} over capacity ${c.capacity}`);
}

/** (c) at most one active registration per household and date. */
export function oneActivePerHousehold(state: DateState): string[] {
  const active = new Map<string, string[]>();
  for (const r of state.regs) {
    if (!['pending', 'confirmed', 'waitlisted', 'checked_in'].includes(r.status)) continue;
    active.set(r.householdId, [...(active.get(r.householdId) ?? []), r.id]);
  }
  return [...active.entries()]
    .filter(([, ids]) => ids.length > 1)
    .map(([h, ids]) => `household ${h} active in ${ids.join(', ')}`);
}

/**
 * The order of a queue: the place each registration was given, in commit order, by the
 * transaction that waitlisted it (issue 12: an order decided by a timestamp that concurrent
 * transactions commit out of order told two households the same position).
 */
export function queueOrder(a: RegRow, b: RegRow): number {
  return (a.queuePlace ?? Infinity) - (b.queuePlace ?? Infinity);
}

/** Two waitlisted registrations of one target never share a place, and none lacks one. */
export function placesUnique(state: DateState): string[] {
  const problems: string[] = [];
  for (const [target, list] of waitlists(state)) {
    const places = list.map((r) => r.queuePlace);
    if (places.some((p) => p === null)) problems.push(`waitlist ${target}: a place is missing`);
    if (new Set(places).size !== places.length)
      problems.push(`waitlist ${target}: places ${JSON.stringify(places)} repeat`);
  }
  return problems;
}

/** Waitlisted registrations grouped by target, oldest first. */
export function waitlists(state: DateState): Map<string, RegRow[]> {
  const byTarget = new Map<string, RegRow[]>();
  for (const r of state.regs.filter((x) => x.status === 'waitlisted')) {
    byTarget.set(targetKey(r), [...(byTarget.get(targetKey(r)) ?? []), r]);
  }
  for (const list of byTarget.values()) list.sort(queueOrder);
  return byTarget;
}

/**
 * (d) the positions the API shows: 1..n per target with no gaps, in queue (place) order.
 * `positions` maps registration id to the waitlistPosition its owner sees.
 */
export function positionsInOrder(
  state: DateState,
  positions: Map<string, number | null>,
): string[] {
  const problems: string[] = [];
  for (const [target, list] of waitlists(state)) {
    const seen = list.map((r) => positions.get(r.id));
    const expected = list.map((_, i) => i + 1);
    if (JSON.stringify(seen) !== JSON.stringify(expected)) {
      problems.push(
        `waitlist ${target}: ids ${list.map((r) => r.id).join(',')} have positions ${JSON.stringify(seen)}`,
      );
    }
  }
  return problems;
}

/** (e) no missed promotion: no waitlisted registration fits in the room its target has now. */
export function noMissedPromotion(state: DateState): string[] {
  return state.regs
    .filter((r) => r.status === 'waitlisted' && r.spots <= roomOf(state, r))
    .map(
      (r) =>
        `waitlisted ${r.id} (${r.spots} spots) fits in room ${roomOf(state, r)} of ${targetKey(r)}`,
    );
}

/**
 * (e) oldest first-fit within a step: while promotions run the room only shrinks, so a
 * registration still waitlisted behind which a younger one of its target was promoted must
 * be larger than that younger one.
 */
export function firstFit(before: DateState, after: DateState): string[] {
  const was = new Map(before.regs.map((r) => [r.id, r]));
  // promoted from its queue: confirmed at the target it waited for (one that moved to another
  // slot and was seated there left its queue; it passed nobody in it)
  const promoted = after.regs.filter((r) => {
    const from = was.get(r.id);
    return (
      from?.status === 'waitlisted' && r.status === 'confirmed' && targetKey(r) === targetKey(from)
    );
  });
  const problems: string[] = [];
  for (const p of promoted) {
    const from = was.get(p.id)!;
    for (const w of after.regs) {
      if (w.status !== 'waitlisted' || targetKey(w) !== targetKey(from)) continue;
      if (queueOrder(w, from) < 0 && w.spots <= p.spots) {
        problems.push(
          `waitlisted ${w.id} (${w.spots}) passed over for younger ${p.id} (${p.spots}) in ${targetKey(w)}`,
        );
      }
    }
  }
  return problems;
}

/** (f) a registration's members all belong to its household. */
export async function membersBelong(privateSql: Connection, dateId: number): Promise<string[]> {
  const [rows] = await privateSql.query<RowDataPacket[]>(
    `SELECT r.id, m.member_id, hm.household_id AS member_household, r.household_id
       FROM event_registrations r
       JOIN event_registration_members m ON m.registration_id = r.id
       LEFT JOIN household_members hm ON hm.id = m.member_id
      WHERE r.event_date_id = ? AND (hm.household_id IS NULL OR hm.household_id <> r.household_id)`,
    [dateId],
  );
  const [empty] = await privateSql.query<RowDataPacket[]>(
    `SELECT r.id FROM event_registrations r WHERE r.event_date_id = ? AND r.status <> 'failed'
        AND NOT EXISTS (SELECT 1 FROM event_registration_members m WHERE m.registration_id = r.id)`,
    [dateId],
  );
  return [
    ...rows.map(
      (r) => `registration ${r.id} lists member ${r.member_id} of household ${r.member_household}`,
    ),
    ...empty.map((r) => `registration ${r.id} has no members`),
  ];
}

/** Sagas of a date that are not finished, with their legs. */
export async function openSagas(
  privateSql: Connection,
  dateId: number,
): Promise<
  {
    id: string;
    registrationId: string;
    kind: string;
    state: string;
    release: (Target & { spots: number }) | null;
    /** counters the release gives back: all of its target, or for a net move only those it left */
    owes: string[];
  }[]
> {
  const [rows] = await privateSql.query<RowDataPacket[]>(
    `SELECT id, registration_id, event_date_id, kind, state, release_slot_id, release_hour_id, release_spots,
            take_slot_id, take_hour_id, take_spots, plan FROM registration_sagas
      WHERE event_date_id = ? AND state NOT IN ('done', 'failed') ORDER BY id`,
    [dateId],
  );
  return rows.map((r) => ({
    owes: owedCounters(r),
    id: String(r.id),
    registrationId: String(r.registration_id),
    kind: String(r.kind),
    state: String(r.state),
    release:
      Number(r.release_spots) === 0
        ? null
        : {
            eventDateId: Number(r.event_date_id),
            eventHourId: r.release_hour_id === null ? null : Number(r.release_hour_id),
            eventSlotId: r.release_slot_id === null ? null : Number(r.release_slot_id),
            spots: Number(r.release_spots),
          },
  }));
}

/** Nothing left half-done: no pending registration, none held by a saga, no unfinished saga. */
export async function settled(dbs: TestDatabases, dateId: number): Promise<string[]> {
  const state = await readState(dbs, dateId);
  return [
    ...state.regs
      .filter((r) => r.status === 'pending')
      .map((r) => `registration ${r.id} is pending`),
    ...state.regs
      .filter((r) => r.pendingSagaId !== null)
      .map((r) => `registration ${r.id} held by saga ${r.pendingSagaId}`),
    ...(await openSagas(dbs.privateSql, dateId)).map(
      (s) => `saga ${s.id} (${s.kind}) left ${s.state}`,
    ),
  ];
}

/**
 * Invariant 1 of the saga while releases are owed: every public counter equals the spots held
 * under it plus the spots that unfinished `releasing` sagas still have to give back there.
 */
function owedCounters(r: RowDataPacket): string[] {
  if (Number(r.release_spots) === 0) return [];
  const target = (slot: unknown, hour: unknown): Target => ({
    eventDateId: Number(r.event_date_id),
    eventHourId: hour === null ? null : Number(hour),
    eventSlotId: slot === null ? null : Number(slot),
  });
  const released = countersOfTarget(target(r.release_slot_id, r.release_hour_id));
  const netMove = (JSON.parse(String(r.plan)) as { netMove?: boolean }).netMove === true;
  if (!netMove || Number(r.take_spots) === 0) return released;
  const taken = countersOfTarget(target(r.take_slot_id, r.take_hour_id));
  return released.filter((k) => !taken.includes(k));
}

export async function owedOnly(dbs: TestDatabases, dateId: number): Promise<string[]> {
  const state = await readState(dbs, dateId);
  const sagas = await openSagas(dbs.privateSql, dateId);
  const problems: string[] = [];
  for (const c of state.counters) {
    const key = counterKey(c.level, c.id);
    const held = state.regs
      .filter((r) => holds(r) && countersOfTarget(r).includes(key))
      .reduce((a, r) => a + r.spots, 0);
    const owed = sagas
      .filter((s) => s.state === 'releasing' && s.release && s.owes.includes(key))
      .reduce((a, s) => a + s.release!.spots, 0);
    if (c.reserved !== held + owed)
      problems.push(`${key}: reserved ${c.reserved}, held ${held}, owed back ${owed}`);
  }
  return problems;
}
