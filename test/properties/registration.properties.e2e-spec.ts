import fc from 'fast-check';
import request from 'supertest';
import { bearer, TestContext } from '../support/app';
import { participant } from '../support/calls';
import { createHousehold } from '../support/households';
import { createSlotDate } from '../support/schedule-fixture';
import {
  cancelFreesItsSpots,
  counterMap,
  countersOfTarget,
  holds,
  readState,
  roomOf,
  targetKey,
} from '../registrations/registration-state';
import {
  createScene,
  DateShape,
  dateShapeArb,
  partyOf,
  registrationBody,
  sortedIds,
} from '../registrations/registration-scenario';
import { fcOptions, holdsProperty, staff, startApp } from './property-support';

// Properties of one registration and what it takes: 3, 4, 5, 6, 7, 10.
// Seeds and run counts: see property-support.ts (FC_RUNS, FC_SEED, FC_PATH, FC_SHRINK).

let ctx: TestContext;
beforeAll(async () => {
  ctx = await startApp();
});
afterAll(async () => ctx?.close());

/** A random date with `sizes.length` households of those sizes. */
const scene = (shape: DateShape, sizes: number[]) => createScene(ctx.dbs, shape, sizes);

const sizesArb = (min: number, max: number) =>
  fc.array(fc.integer({ min: 1, max: 3 }), { minLength: min, maxLength: max });
/** A household's registration attempt: which slot, which members (0 = the default: all). */
const attemptArb = fc.record({ slot: fc.nat(2), members: fc.nat(7), joinWaitlist: fc.boolean() });
/** Households (their sizes) and what each attempts, one household per attempt. */
const attemptsArb = (minLength: number, maxLength: number) =>
  fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), attemptArb), { minLength, maxLength });
const sceneFor = (shape: DateShape, attempts: [number, ...unknown[]][]) =>
  scene(
    shape,
    attempts.map(([size]) => size),
  );

describe('Property 3: a registration’s id never changes through change, move, cancel, promotion', () => {
  it('answers and reads back under the same id, and mints no other', async () => {
    const stepArb = fc.constantFrom('party', 'move', 'blocker-leaves', 'blocker-returns', 'cancel');
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(7), { minLength: 8, maxLength: 8 }),
        async (steps, picks) => {
          // two slots of one; the blocker holds the first, so the household starts waitlisted
          const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 1 });
          const blocker = await createHousehold(ctx.dbs.privateSql);
          const h = await createHousehold(ctx.dbs.privateSql, undefined, 3);
          const body = (slot: number) => ({ eventDateId: s.dateId, eventSlotId: s.slotIds[slot] });
          let blockerId = (await participant(ctx.http, blocker).register(body(0)).expect(201)).body
            .id as string;
          const api = participant(ctx.http, h);
          const first = await api.register(body(0)).expect(201);
          const id = first.body.id as string;
          expect(first.body.status).toBe('waitlisted');
          for (const [i, step] of steps.entries()) {
            const pick = picks[i];
            let answer: request.Response | undefined;
            if (step === 'party') answer = await api.change(id, { memberIds: partyOf(h, pick) });
            if (step === 'move')
              answer = await api.change(id, { eventSlotId: s.slotIds[pick % 2] });
            if (step === 'cancel') answer = await api.cancel(id);
            if (step === 'blocker-leaves') await participant(ctx.http, blocker).cancel(blockerId);
            if (step === 'blocker-returns') {
              const back = await participant(ctx.http, blocker).register(body(pick % 2));
              if (back.status === 201) blockerId = back.body.id;
            }
            const problems: string[] = [];
            if (answer && answer.status < 300 && answer.body.id !== id)
              problems.push(`${step} answered with id ${answer.body.id}`);
            const read = await api.get(id);
            if (read.status !== 200 || read.body.id !== id)
              problems.push(`reading ${id} gave ${read.status} ${read.body.id}`);
            const list = await api.list({ pageSize: 100 }).expect(200);
            const ids = list.body.items.map((r: { id: string }) => r.id);
            if (JSON.stringify(ids) !== JSON.stringify([id]))
              problems.push(`the household's list holds ${ids.join(',')}`);
            holdsProperty('Property 3', `step ${i} ${step} (${read.body.status})`, problems);
          }
        },
      ),
      fcOptions(10),
    );
  });
});

describe('Property 4: a date nobody has registered for has an empty, enabled waitlist', () => {
  it('shows waitlist enabled with length 0, every slot at 0, and no one in the staff list', async () => {
    await fc.assert(
      fc.asyncProperty(dateShapeArb, dateShapeArb, sizesArb(0, 4), async (shape, busy, sizes) => {
        // a busy date next to it, full and with a waitlist, must not leak into the empty one
        const other = await scene(busy, sizes);
        for (const h of other.households)
          await participant(ctx.http, h).register(registrationBody(other.date.targetOf(0)));
        const { date } = await scene(shape, []);
        const shown = await request(ctx.http).get(`/api/v1/event-dates/${date.dateId}`).expect(200);
        const slots = (shown.body.hours as { slots: { waitlistLength: number }[] }[]).flatMap(
          (hour) => hour.slots,
        );
        const queue = await staff(ctx.http).waitlist(date.dateId);
        const problems: string[] = [];
        if (JSON.stringify(shown.body.waitlist) !== JSON.stringify({ enabled: true, length: 0 }))
          problems.push(`waitlist ${JSON.stringify(shown.body.waitlist)}`);
        for (const slot of slots.filter((x) => x.waitlistLength !== 0))
          problems.push(`a slot shows waitlistLength ${slot.waitlistLength}`);
        if (slots.length !== date.slotIds.length)
          problems.push(`${slots.length} slots shown of ${date.slotIds.length}`);
        if (queue.body.items.length !== 0)
          problems.push(`staff waitlist ${queue.body.items.length}`);
        holdsProperty('Property 4', `date ${date.dateId} ${JSON.stringify(shape)}`, problems);
      }),
      fcOptions(12),
    );
  });
});

describe('Property 5: a confirmed registration takes exactly its spots from slot, hour and date', () => {
  it('moves its own slot, hour and date counters by its spots, and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(dateShapeArb, attemptsArb(1, 6), async (shape, attempts) => {
        const { date, households } = await sceneFor(shape, attempts);
        for (const [i, [, a]] of attempts.entries()) {
          const h = households[i];
          const party = a.members === 0 ? h.memberIds : partyOf(h, a.members);
          const target = date.targetOf(a.slot);
          const before = counterMap(await readState(ctx.dbs, date.dateId));
          const res = await participant(ctx.http, h).register(
            registrationBody(target, a.members === 0 ? undefined : party, a.joinWaitlist),
          );
          const after = counterMap(await readState(ctx.dbs, date.dateId));
          const taken = res.status === 201 && res.body.status === 'confirmed';
          const own = countersOfTarget(target);
          const problems: string[] = [];
          if (res.status === 201 && res.body.spots !== date.spotsFor(party))
            problems.push(`spots ${res.body.spots} for a party of ${party.length} (${shape.unit})`);
          for (const [key, c] of after) {
            const expected = taken && own.includes(key) ? date.spotsFor(party) : 0;
            const moved = c.reserved - before.get(key)!.reserved;
            if (moved !== expected) problems.push(`${key} moved ${moved}, expected ${expected}`);
          }
          holdsProperty(
            'Property 5',
            `registration ${i} (${res.status} ${res.body.status})`,
            problems,
          );
        }
      }),
      fcOptions(12),
    );
  });
});

describe('Property 6: a registration can be read back with what was stored', () => {
  it('reads back each write’s answer by id and in the list, and both agree with the database', async () => {
    await fc.assert(
      fc.asyncProperty(
        dateShapeArb,
        fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), attemptArb, fc.option(fc.nat(7))), {
          minLength: 1,
          maxLength: 5,
        }),
        async (shape, attempts) => {
          const { date, households } = await sceneFor(shape, attempts);
          for (const [i, [, a, change]] of attempts.entries()) {
            const h = households[i];
            const api = participant(ctx.http, h);
            const party = a.members === 0 ? undefined : partyOf(h, a.members);
            let written = await api.register(
              registrationBody(date.targetOf(a.slot), party, a.joinWaitlist),
            );
            if (written.status !== 201) continue;
            let refused = false;
            if (change !== null) {
              const changed = await api.change(written.body.id, { memberIds: partyOf(h, change) });
              // a refused change (409) is the answer of no write: what was stored last is
              // compared with the database below, not with an earlier answer (a refused change
              // moves updatedAt today, which is PATCH's all-or-nothing question, not this one)
              if (changed.status === 200) written = changed;
              else refused = true;
            }
            const byId = await api.get(written.body.id).expect(200);
            const listed = await api.list({ pageSize: 100 }).expect(200);
            const stored = (await readState(ctx.dbs, date.dateId)).regs.find(
              (r) => r.id === written.body.id,
            )!;
            const problems: string[] = [];
            if (!refused && JSON.stringify(byId.body) !== JSON.stringify(written.body))
              problems.push(
                `read ${JSON.stringify(byId.body)}, wrote ${JSON.stringify(written.body)}`,
              );
            if (JSON.stringify(listed.body.items[0]) !== JSON.stringify(byId.body))
              problems.push(`listed ${JSON.stringify(listed.body.items[0])}`);
            const fromDb = {
              householdId: stored.householdId,
              eventDateId: stored.eventDateId,
              eventHourId: stored.eventHourId,
              eventSlotId: stored.eventSlotId,
              status: stored.status,
              spots: stored.spots,
              partySize: stored.partySize,
              memberIds: sortedIds(stored.memberIds),
            };
            const fromApi = Object.fromEntries(Object.keys(fromDb).map((k) => [k, byId.body[k]]));
            if (JSON.stringify(fromApi) !== JSON.stringify(fromDb))
              problems.push(`API ${JSON.stringify(fromApi)}, database ${JSON.stringify(fromDb)}`);
            holdsProperty('Property 6', `registration ${i}`, problems);
          }
        },
      ),
      fcOptions(12),
    );
  });
});

describe('Property 7: on a full target with the waitlist enabled, a newcomer is waitlisted', () => {
  it('waitlists every newcomer that does not fit, at the end of its target’s queue', async () => {
    await fc.assert(
      fc.asyncProperty(
        dateShapeArb,
        fc.constantFrom('default', 'explicit', 'settings'),
        attemptsArb(3, 9),
        async (shape, how, attempts) => {
          const { date, households } = await sceneFor(shape, attempts);
          // the waitlist is enabled by default, or explicitly by staff (limit: none)
          if (how === 'settings')
            await request(ctx.http)
              .put(`/api/v1/admin/event-dates/${date.dateId}/settings`)
              .set('Authorization', bearer('staff-props', ['staff']))
              .send({ waitlistEnabled: true, waitlistLimit: null })
              .expect(200);
          for (const [i, [, a]] of attempts.entries()) {
            const h = households[i];
            const party = a.members === 0 ? h.memberIds : partyOf(h, a.members);
            const target = date.targetOf(a.slot);
            const before = await readState(ctx.dbs, date.dateId);
            if (roomOf(before, target) >= date.spotsFor(party)) {
              await participant(ctx.http, h).register(registrationBody(target, party)).expect(201);
              continue;
            }
            const queued = before.regs.filter(
              (r) => r.status === 'waitlisted' && targetKey(r) === targetKey(target),
            ).length;
            const res = await participant(ctx.http, h).register(
              registrationBody(target, party, how === 'default' ? undefined : true),
            );
            const problems: string[] = [];
            if (res.status !== 201 || res.body.status !== 'waitlisted')
              problems.push(
                `newcomer on a full target: ${res.status} ${res.body.status ?? res.body.code}`,
              );
            else if (res.body.waitlistPosition !== queued + 1)
              problems.push(`position ${res.body.waitlistPosition}, ${queued} were waiting`);
            holdsProperty('Property 7', `newcomer ${i} (${how})`, problems);
          }
        },
      ),
      fcOptions(12),
    );
  });
});

describe('Property 10: a cancel gives back exactly the spots the registration held', () => {
  it('moves every counter by minus the cancelled spots plus what it promoted', async () => {
    await fc.assert(
      fc.asyncProperty(
        dateShapeArb,
        attemptsArb(2, 7),
        fc.array(fc.nat(), { minLength: 1, maxLength: 7 }),
        async (shape, attempts, cancels) => {
          const { date, households } = await sceneFor(shape, attempts);
          for (const [i, [, a]] of attempts.entries()) {
            const party = a.members === 0 ? undefined : partyOf(households[i], a.members);
            await participant(ctx.http, households[i]).register(
              registrationBody(date.targetOf(a.slot), party, a.joinWaitlist),
            );
          }
          for (const pick of cancels) {
            const before = await readState(ctx.dbs, date.dateId);
            const live = before.regs.filter((r) => r.status !== 'failed');
            if (live.length === 0) break;
            const r = live[pick % live.length];
            const h = households.find((x) => x.id === r.householdId)!;
            await participant(ctx.http, h).cancel(r.id).expect(200);
            const after = await readState(ctx.dbs, date.dateId);
            holdsProperty(
              'Property 10',
              `cancel of ${r.status} ${r.id} (${r.spots} spots, ${holds(r) ? 'held' : 'not held'})`,
              cancelFreesItsSpots(before, after, r),
            );
          }
        },
      ),
      fcOptions(12),
    );
  });
});
