import fc from 'fast-check';
import { Failpoints } from '../../src/common/failpoints';
import type { TestContext } from '../support/app';
import { participant } from '../support/calls';
import { countPeople, createHouseholds, TestHousehold } from '../support/households';
import { createDate, createEvent, createSlotDate } from '../support/schedule-fixture';
import {
  drift,
  holds,
  readState,
  roomOf,
  settled,
  Target,
  targetKey,
} from '../registrations/registration-state';
import { registrationBody } from '../registrations/registration-scenario';
import { fcOptions, holdsProperty, staff, startApp } from './property-support';

// Properties of the waitlist: 8, 9, 11, 16. Written against what the API shows (positions,
// the staff's waitlist in promotion order, who gets confirmed), not against how the service
// stores its queue. Seeds and run counts: see property-support.ts.

let ctx: TestContext;
beforeAll(async () => {
  ctx = await startApp();
});
afterAll(async () => ctx?.close());

interface Waiting {
  id: string;
  waitlistPosition: number;
  eventSlotId: number | null;
  householdId: string;
}

/** The staff's view of a date's waitlist: per target, in promotion order. */
async function queues(dateId: number): Promise<Map<string, Waiting[]>> {
  const items = (await staff(ctx.http).waitlist(dateId)).body.items as Waiting[];
  const byTarget = new Map<string, Waiting[]>();
  for (const r of items) {
    const key = `${dateId}/${r.eventSlotId ?? '-'}`;
    byTarget.set(key, [...(byTarget.get(key) ?? []), r]);
  }
  return byTarget;
}

/** One target with `capacity`: a date without slots, or one slot (of a one-slot hour). */
async function singleTarget(slot: boolean, capacity: number): Promise<Target> {
  if (!slot) {
    const dateId = await createDate(ctx.dbs.publicSql, await createEvent(ctx.dbs.publicSql), {
      capacity,
    });
    return { eventDateId: dateId, eventHourId: null, eventSlotId: null };
  }
  const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: capacity });
  return { eventDateId: s.dateId, eventHourId: s.hourId, eventSlotId: s.slotIds[0] };
}

const households = (sizes: number[]) => createHouseholds(ctx.dbs.privateSql, sizes);

describe('Property 8: the waitlist keeps the order in which households joined it', () => {
  it('shows each target’s queue in join order, through leavers, promotions and newcomers', async () => {
    // households count, so each promotion seats exactly the head of its queue
    const joinArb = fc.record({ kind: fc.constant('join' as const), slot: fc.nat(1) });
    const stepArb = fc.oneof(
      { weight: 2, arbitrary: joinArb },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('free' as const), slot: fc.nat(1) }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 }),
        fc.array(joinArb, { minLength: 2, maxLength: 5 }),
        fc.array(stepArb, { minLength: 3, maxLength: 12 }),
        async (capacity, queued, later) => {
          // queues already formed, so most frees meet a queue of several
          const steps = [...queued, ...later];
          const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: capacity });
          const target = (slot: number): Target => ({
            eventDateId: s.dateId,
            eventHourId: s.hourId,
            eventSlotId: s.slotIds[slot],
          });
          const all = await households(steps.map(() => 1).concat([1, 1, 1, 1]));
          const byId = new Map<string, TestHousehold>();
          // fill both slots, so every join waits
          const seated: string[][] = [[], []];
          let next = 0;
          for (const slot of [0, 1])
            for (let i = 0; i < capacity; i++) {
              const h = all[next++];
              const r = await participant(ctx.http, h).register(registrationBody(target(slot)));
              seated[slot].push(r.body.id);
              byId.set(r.body.id, h);
            }
          // the model: each slot's queue in the order its households joined
          const joined: string[][] = [[], []];
          for (const [i, step] of steps.entries()) {
            if (step.kind === 'join') {
              const h = all[next++];
              const r = await participant(ctx.http, h).register(
                registrationBody(target(step.slot)),
              );
              if (r.body.status === 'waitlisted') joined[step.slot].push(r.body.id);
              else seated[step.slot].push(r.body.id);
              byId.set(r.body.id, h);
            } else if (step.kind === 'leave') {
              const waiting = joined.flat();
              if (waiting.length === 0) continue;
              const id = waiting[step.pick % waiting.length];
              await participant(ctx.http, byId.get(id)!).cancel(id).expect(200);
              for (const q of joined) if (q.includes(id)) q.splice(q.indexOf(id), 1);
            } else {
              const id = seated[step.slot].shift();
              if (id === undefined) continue;
              await participant(ctx.http, byId.get(id)!).cancel(id).expect(200);
              // the head of the queue takes the seat
              const head = joined[step.slot].shift();
              if (head !== undefined) seated[step.slot].push(head);
            }
            const shown = await queues(s.dateId);
            const problems: string[] = [];
            for (const slot of [0, 1]) {
              const q = shown.get(targetKey(target(slot))) ?? [];
              if (JSON.stringify(q.map((r) => r.id)) !== JSON.stringify(joined[slot]))
                problems.push(
                  `slot ${slot} queue ${q.map((r) => r.id).join(',')}, joined ${joined[slot].join(',')}`,
                );
              if (q.some((r, at) => r.waitlistPosition !== at + 1))
                problems.push(
                  `slot ${slot} positions ${q.map((r) => r.waitlistPosition).join(',')}`,
                );
              for (const [at, id] of joined[slot].entries()) {
                const own = await participant(ctx.http, byId.get(id)!).get(id).expect(200);
                if (own.body.waitlistPosition !== at + 1)
                  problems.push(`${id} sees position ${own.body.waitlistPosition}, is ${at + 1}`);
              }
            }
            holdsProperty('Property 8', `step ${i} ${JSON.stringify(step)}`, problems);
          }
        },
      ),
      fcOptions(10),
    );
  });
});

describe('Property 9: a waitlisted registration persists until promoted, cancelled or closed', () => {
  // Closing the waitlist (POST /api/v1/admin/event-dates/:id/waitlist/close, issue 15.2) joins
  // the steps once that route is on this branch; until then: promoted or cancelled.
  it('stays waitlisted, under its id, through every step that does not promote or cancel it', async () => {
    const stepArb = fc.oneof(
      fc.record({ kind: fc.constant('join' as const) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('party' as const), pick: fc.nat(), mask: fc.nat(3) }),
      fc.record({ kind: fc.constant('capacity' as const), delta: fc.integer({ min: -1, max: 1 }) }),
      fc.record({ kind: fc.constant('promote' as const) }),
      fc.record({ kind: fc.constant('close' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        fc.array(stepArb, { minLength: 3, maxLength: 14 }),
        async (slot, capacity, steps) => {
          const target = await singleTarget(slot, capacity);
          const all = await households(steps.map(() => 2).concat([2, 2, 2, 2, 2, 2]));
          const owner = new Map<string, TestHousehold>();
          let next = 0;
          const join = async () => {
            const h = all[next++];
            const r = await participant(ctx.http, h).register(registrationBody(target));
            owner.set(r.body.id, h);
          };
          for (let i = 0; i < capacity + 2; i++) await join();
          for (const [i, step] of steps.entries()) {
            const before = await readState(ctx.dbs, target.eventDateId);
            const live = before.regs.filter(
              (r) => r.status === 'confirmed' || r.status === 'waitlisted',
            );
            let cancelled: string | undefined;
            if (step.kind === 'join') await join();
            if (step.kind === 'cancel' && live.length > 0) {
              cancelled = live[step.pick % live.length].id;
              await participant(ctx.http, owner.get(cancelled)!).cancel(cancelled).expect(200);
            }
            if (step.kind === 'party' && live.length > 0) {
              const r = live[step.pick % live.length];
              const h = owner.get(r.id)!;
              const party = h.memberIds.filter((_, m) => (step.mask >> m) & 1);
              await participant(ctx.http, h).change(r.id, {
                memberIds: party.length ? party : h.memberIds,
              });
            }
            if (step.kind === 'capacity') {
              // the owner lowers or raises the date's capacity; a raise seats only when promoted
              await ctx.dbs.publicSql.query(
                'UPDATE event_dates SET capacity = GREATEST(0, capacity + ?) WHERE event_date_id = ?',
                [step.delta, target.eventDateId],
              );
            }
            if (step.kind === 'promote') await staff(ctx.http).promote(target.eventDateId);
            const closed =
              step.kind === 'close'
                ? ((await staff(ctx.http).close(target.eventDateId)).body.closed as string[])
                : [];
            const problems: string[] = [];
            const waiting = before.regs.filter((r) => r.status === 'waitlisted').map((r) => r.id);
            // closing ends exactly the registrations that were waiting, and says which
            if (step.kind === 'close' && [...closed].sort().join() !== [...waiting].sort().join())
              problems.push(
                `close answered ${closed.join(',')}, waiting were ${waiting.join(',')}`,
              );
            for (const w of before.regs.filter((r) => r.status === 'waitlisted')) {
              const now = await participant(ctx.http, owner.get(w.id)!).get(w.id);
              if (now.status !== 200) {
                problems.push(`waitlisted ${w.id} reads ${now.status}`);
                continue;
              }
              if (now.body.status === 'waitlisted') continue;
              const history = (await staff(ctx.http).history(w.id)).body.items as {
                action: string;
                fromStatus: string;
                toStatus: string;
              }[];
              const last = history.at(-1)!;
              const why =
                now.body.status === 'confirmed'
                  ? last.action === 'promoted'
                  : now.body.status === 'cancelled' &&
                    ((w.id === cancelled && last.action === 'cancelled') ||
                      (closed.includes(w.id) && last.action === 'waitlist_closed'));
              if (!why || last.fromStatus !== 'waitlisted')
                problems.push(`waitlisted ${w.id} became ${now.body.status} by ${last.action}`);
            }
            holdsProperty('Property 9', `step ${i} ${JSON.stringify(step)}`, problems);
          }
        },
      ),
      fcOptions(10),
    );
  });
});

describe('Property 11: a cancel promotes the oldest waitlisted registrations that fit', () => {
  it('seats, in queue order, each waitlisted party that fits the room the cancel freed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.constantFrom<'household' | 'person'>('household', 'person'),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 9 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        async (slot, unit, capacity, sizes, cancels) => {
          const target = await singleTarget(slot, capacity);
          if (unit === 'person') await countPeople(ctx.dbs.privateSql, target.eventDateId);
          const all = await households(sizes);
          const owner = new Map<string, TestHousehold>();
          for (const h of all) {
            const r = await participant(ctx.http, h).register(registrationBody(target));
            if (r.status === 201) owner.set(r.body.id, h);
          }
          for (const pick of cancels) {
            const before = await readState(ctx.dbs, target.eventDateId);
            const seatedNow = before.regs.filter(holds);
            if (seatedNow.length === 0) break;
            const r = seatedNow[pick % seatedNow.length];
            // the queue as the API shows it, and the room the cancel leaves before promotions
            const queue = (await queues(target.eventDateId)).get(targetKey(target)) ?? [];
            const spots = new Map(before.regs.map((x) => [x.id, x.spots]));
            let room = roomOf(before, target) + r.spots;
            const expected: string[] = [];
            for (const w of queue) {
              if (spots.get(w.id)! > room) continue;
              expected.push(w.id);
              room -= spots.get(w.id)!;
            }
            await participant(ctx.http, owner.get(r.id)!).cancel(r.id).expect(200);
            const after = await readState(ctx.dbs, target.eventDateId);
            const promoted = after.regs
              .filter(
                (x) =>
                  x.status === 'confirmed' &&
                  before.regs.find((y) => y.id === x.id)?.status === 'waitlisted',
              )
              .map((x) => x.id);
            const rest = ((await queues(target.eventDateId)).get(targetKey(target)) ?? []).map(
              (w) => w.id,
            );
            const problems: string[] = [];
            if (JSON.stringify([...promoted].sort()) !== JSON.stringify([...expected].sort()))
              problems.push(
                `promoted ${promoted.join(',')}, the oldest that fit are ${expected.join(',')}`,
              );
            const left = queue.map((w) => w.id).filter((id) => !expected.includes(id));
            if (JSON.stringify(rest) !== JSON.stringify(left))
              problems.push(`queue after ${rest.join(',')}, expected ${left.join(',')}`);
            holdsProperty(
              'Property 11',
              `cancel of ${r.id} (${r.spots}) with queue ${queue.map((w) => `${w.id}:${spots.get(w.id)}`).join(',')}`,
              problems,
            );
          }
        },
      ),
      fcOptions(12),
    );
  });
});

describe('Property 16: a promotion confirms and counts together, or neither', () => {
  afterEach(() => ctx.app.get(Failpoints).configure([]));

  it('leaves each waitlisted registration either confirmed and counted or waitlisted and not, whatever step of its promotion fails', async () => {
    const faultArb = fc.record({
      point: fc.constantFrom('take.before-counters', 'take.after-counters', 'take.after-confirm'),
      probability: fc.constantFrom(0.3, 0.6, 1),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 3, max: 7 }),
        fc.array(fc.tuple(fc.nat(), fc.option(faultArb)), { minLength: 1, maxLength: 5 }),
        async (slot, capacity, count, cancels) => {
          const target = await singleTarget(slot, capacity);
          const all = await households(Array.from({ length: count }, () => 1));
          const owner = new Map<string, TestHousehold>();
          for (const h of all) {
            const r = await participant(ctx.http, h).register(registrationBody(target));
            owner.set(r.body.id, h);
          }
          const check = async (where: string) => {
            const state = await readState(ctx.dbs, target.eventDateId);
            const problems = [
              ...(await drift(ctx.dbs, target.eventDateId)),
              ...(await settled(ctx.dbs, target.eventDateId)),
            ];
            // a promoted registration answers confirmed, and only then is it counted
            for (const r of state.regs.filter(
              (x) => x.status === 'confirmed' || x.status === 'waitlisted',
            )) {
              const seen = await participant(ctx.http, owner.get(r.id)!).get(r.id).expect(200);
              if (seen.body.status !== r.status)
                problems.push(`${r.id} answers ${seen.body.status}, stored ${r.status}`);
            }
            holdsProperty('Property 16', where, problems);
          };
          for (const [pick, fault] of cancels) {
            const state = await readState(ctx.dbs, target.eventDateId);
            const seatedNow = state.regs.filter(holds);
            if (seatedNow.length === 0) break;
            const r = seatedNow[pick % seatedNow.length];
            if (fault)
              ctx.app.get(Failpoints).configure([`${fault.point}:error:${fault.probability}`]);
            const res = await participant(ctx.http, owner.get(r.id)!).cancel(r.id);
            ctx.app.get(Failpoints).configure([]);
            // the cancel itself has committed before any promotion runs
            expect([res.status, res.body.status]).toEqual([200, 'cancelled']);
            await check(`cancel of ${r.id} with fault ${JSON.stringify(fault)}`);
          }
          // what a failed promotion left waiting is seated by the next one
          await staff(ctx.http).promote(target.eventDateId);
          await check('staff promotion afterwards');
        },
      ),
      fcOptions(10),
    );
  });
});
