import fc from 'fast-check';
import type { TestDatabases } from '../support/databases';
import { countPeople, createHouseholds, TestHousehold } from '../support/households';
import { createDate, createEvent, createSlotDate } from '../support/schedule-fixture';
import { counterKey, counterMap, DateState, Level, Target } from './registration-state';

// A random event date to register for, shared by the sequence model and the named properties:
// slot or date bookings, capacity counted in households or people, slot, hour and date
// capacities close enough that any of them may be the binding one.

export const dateShapeArb = fc.record({
  level: fc.constantFrom<'slot' | 'date'>('slot', 'slot', 'date'),
  unit: fc.constantFrom<'household' | 'person'>('household', 'person'),
  slots: fc.integer({ min: 2, max: 3 }),
  slotCapacity: fc.integer({ min: 1, max: 3 }),
  // hour and date capacities around the sum of the slots, so either may be the binding one
  hourSlack: fc.integer({ min: -2, max: 1 }),
  dateSlack: fc.integer({ min: -2, max: 1 }),
});
export type DateShape = typeof dateShapeArb extends fc.Arbitrary<infer T> ? T : never;

export type Action =
  | {
      kind: 'register';
      h: number;
      slot: number;
      members: number;
      joinWaitlist: boolean;
      keyed: boolean;
    }
  | { kind: 'cancel'; h: number; keyed: boolean }
  | { kind: 'move'; h: number; slot: number; keyed: boolean }
  | { kind: 'party'; h: number; members: number; keyed: boolean }
  | { kind: 'capacity'; level: Level; index: number; delta: number }
  | { kind: 'promote' }
  | { kind: 'replay'; pick: number }
  | { kind: 'burst'; ops: { h: number; slot: number; cancel: boolean }[] };

/** What participants, the schedule's owner and staff do to a date, on `households` households. */
export function actionArb(households: number): fc.Arbitrary<Action> {
  const household = fc.integer({ min: 0, max: households - 1 });
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('register' as const),
        h: household,
        slot: fc.nat(2),
        members: fc.nat(7),
        joinWaitlist: fc.boolean(),
        keyed: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('cancel' as const),
        h: household,
        keyed: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('move' as const),
        h: household,
        slot: fc.nat(2),
        keyed: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('party' as const),
        h: household,
        members: fc.integer({ min: 1, max: 7 }),
        keyed: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('capacity' as const),
        level: fc.constantFrom<Level>('slot', 'hour', 'date'),
        index: fc.nat(2),
        delta: fc.integer({ min: -2, max: 2 }).filter((d) => d !== 0),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'promote' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }) },
    {
      // several households at once: the date's group commit takes them as one batch
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('burst' as const),
        ops: fc.array(fc.record({ h: household, slot: fc.nat(2), cancel: fc.boolean() }), {
          minLength: 2,
          maxLength: 6,
        }),
      }),
    },
  );
}

export interface ShapedDate {
  shape: DateShape;
  dateId: number;
  hourId: number | null;
  slotIds: number[];
  /** the target of slot `slot` (modulo the slots), or the date itself for a date booking */
  targetOf(slot: number): Target;
  /** the spots a party takes: 1 per household, or one per person */
  spotsFor(party: string[]): number;
}

/** Creates the date `shape` describes in the public database (and its capacity unit). */
export async function createShapedDate(dbs: TestDatabases, shape: DateShape): Promise<ShapedDate> {
  const unitFactor = shape.unit === 'person' ? 2 : 1;
  const slotCapacity = shape.slotCapacity * unitFactor;
  const sum = shape.slots * slotCapacity;
  let dateId: number;
  let hourId: number | null = null;
  let slotIds: number[] = [];
  if (shape.level === 'slot') {
    ({ dateId, hourId, slotIds } = await createSlotDate(dbs.publicSql, {
      slots: shape.slots,
      slotCapacity,
      hourCapacity: Math.max(1, sum + shape.hourSlack * unitFactor),
      dateCapacity: Math.max(1, sum + shape.dateSlack * unitFactor),
    }));
  } else {
    dateId = await createDate(dbs.publicSql, await createEvent(dbs.publicSql), {
      capacity: Math.max(1, sum + shape.dateSlack * unitFactor),
    });
  }
  if (shape.unit === 'person') {
    await countPeople(dbs.privateSql, dateId);
  }
  return {
    shape,
    dateId,
    hourId,
    slotIds,
    targetOf: (slot) =>
      shape.level === 'slot'
        ? { eventDateId: dateId, eventHourId: hourId, eventSlotId: slotIds[slot % slotIds.length] }
        : { eventDateId: dateId, eventHourId: null, eventSlotId: null },
    spotsFor: (party) => (shape.unit === 'person' ? party.length : 1),
  };
}

/** The members `mask` picks (bit i = member i), never none. */
export function partyOf(h: TestHousehold, mask: number): string[] {
  const chosen = h.memberIds.filter((_, i) => (mask >> i) & 1);
  return chosen.length > 0 ? chosen : [h.memberIds[mask % h.memberIds.length]];
}

/** The body of a participant's POST for `target`, with `party` (all members when omitted). */
export function registrationBody(target: Target, party?: string[], joinWaitlist?: boolean) {
  return {
    eventDateId: target.eventDateId,
    ...(target.eventSlotId === null ? {} : { eventSlotId: target.eventSlotId }),
    ...(party === undefined ? {} : { memberIds: party }),
    ...(joinWaitlist === undefined ? {} : { joinWaitlist }),
  };
}

/** Member ids as the API returns them: numeric order. */
export const sortedIds = (ids: string[]): string[] =>
  [...ids].sort((a, b) => Number(a) - Number(b));

/** The schedule's owner changes one capacity behind the service's back (never below 0). */
export async function changeCapacity(
  dbs: TestDatabases,
  date: ShapedDate,
  state: DateState,
  action: Extract<Action, { kind: 'capacity' }>,
): Promise<{ before: number; after: number }> {
  const level = date.shape.level === 'date' ? 'date' : action.level;
  const id =
    level === 'slot'
      ? date.slotIds[action.index % date.slotIds.length]
      : level === 'hour'
        ? date.hourId!
        : date.dateId;
  const before = counterMap(state).get(counterKey(level, id))!.capacity;
  const after = Math.max(0, before + action.delta);
  const table = { slot: 'event_slots', hour: 'event_hours', date: 'event_dates' }[level];
  await dbs.publicSql.query(`UPDATE ${table} SET capacity = ? WHERE ${table.slice(0, -1)}_id = ?`, [
    after,
    id,
  ]);
  return { before, after };
}

/** Households of the given sizes, one after another (ids ascend in this order). */
/** A date of `shape` and households of `sizes` to register for it. */
export async function createScene(
  dbs: TestDatabases,
  shape: DateShape,
  sizes: number[],
): Promise<{ date: ShapedDate; households: TestHousehold[] }> {
  return {
    date: await createShapedDate(dbs, shape),
    households: await createHouseholds(dbs.privateSql, sizes),
  };
}
