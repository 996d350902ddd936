import fc from 'fast-check';
import { createTestApp, TestContext } from '../support/app';
import { participant } from '../support/calls';
import {
  capacityRespected,
  counterMap,
  countersOfTarget,
  DateState,
  drift,
  holds,
  oneActivePerHousehold,
  readState,
  settled,
} from '../registrations/registration-state';
import {
  Action,
  actionArb,
  createScene,
  DateShape,
  dateShapeArb,
  partyOf,
  registrationBody,
} from '../registrations/registration-scenario';
import { fcOptions, holdsProperty, startApp } from './property-support';
import { perform } from './sequence';

// Properties of the counters: 14, 15 over random sequences of everything participants, staff
// and the schedule's owner do (the sequence model's actions), and 18 under concurrent bursts on
// two app instances. Seeds and run counts: see property-support.ts.

const HOUSEHOLDS = 5;
let a: TestContext;
let b: TestContext;
beforeAll(async () => {
  a = await startApp();
  // a second instance on the same databases: nothing that guards capacity may live in memory
  b = await createTestApp({ PUBLIC_DB_POOL_SIZE: '4', PRIVATE_DB_POOL_SIZE: '4' }, a.dbs);
  await b.app.listen(0, '127.0.0.1');
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const scene = (shape: DateShape, sizes: number[]) => createScene(a.dbs, shape, sizes);

const sizesArb = fc.array(fc.integer({ min: 1, max: 3 }), {
  minLength: HOUSEHOLDS,
  maxLength: HOUSEHOLDS,
});
const actionsArb = fc.array(actionArb(HOUSEHOLDS), { minLength: 6, maxLength: 20 });

/** Runs `actions` one after another, holding `property` to `check` after each. */
async function sequence(
  property: string,
  shape: DateShape,
  sizes: number[],
  actions: Action[],
  check: (before: DateState, after: DateState, dateId: number) => string[] | Promise<string[]>,
): Promise<void> {
  const { date, households } = await scene(shape, sizes);
  let before = await readState(a.dbs, date.dateId);
  for (const [step, action] of actions.entries()) {
    const status = await perform(a, date, households, before, action);
    const after = await readState(a.dbs, date.dateId);
    holdsProperty(
      property,
      `step ${step} ${JSON.stringify(action)} (${status})`,
      await check(before, after, date.dateId),
    );
    before = after;
  }
}

describe('Property 14: no slot, hour or date is ever above its capacity', () => {
  // The schedule's owner may lower a capacity under what is already reserved (an action of the
  // sequence); the service must then never add to that counter until it is back within capacity.
  it('never raises a counter above its capacity, whatever the sequence', async () => {
    await fc.assert(
      fc.asyncProperty(dateShapeArb, sizesArb, actionsArb, (shape, sizes, actions) =>
        sequence('Property 14', shape, sizes, actions, (before, after) =>
          capacityRespected(before, after),
        ),
      ),
      fcOptions(10),
    );
  });
});

describe('Property 15: every counter equals the spots of the registrations that hold a seat', () => {
  it('keeps slot, hour and date reserved equal to the confirmed and checked-in spots', async () => {
    await fc.assert(
      fc.asyncProperty(dateShapeArb, sizesArb, actionsArb, (shape, sizes, actions) =>
        sequence('Property 15', shape, sizes, actions, async (_before, _after, dateId) =>
          drift(a.dbs, dateId),
        ),
      ),
      fcOptions(10),
    );
  });
});

describe('Property 18: concurrent registrations never oversell, whatever their interleaving', () => {
  it('keeps every counter within capacity and equal to the seats held after concurrent bursts', async () => {
    const opArb = fc.record({
      kind: fc.constantFrom('register', 'register', 'register', 'cancel'),
      h: fc.nat(HOUSEHOLDS * 2 - 1),
      slot: fc.nat(2),
      members: fc.nat(7),
      instance: fc.nat(1),
    });
    await fc.assert(
      fc.asyncProperty(
        dateShapeArb,
        fc.array(fc.integer({ min: 1, max: 3 }), {
          minLength: HOUSEHOLDS * 2,
          maxLength: HOUSEHOLDS * 2,
        }),
        fc.array(fc.array(opArb, { minLength: 2, maxLength: 10 }), { minLength: 1, maxLength: 3 }),
        async (shape, sizes, bursts) => {
          const { date, households } = await scene(shape, sizes);
          for (const [i, burst] of bursts.entries()) {
            const before = await readState(a.dbs, date.dateId);
            const answers = await Promise.all(
              burst.map(async (op) => {
                const h = households[op.h];
                const api = participant((op.instance === 0 ? a : b).http, h);
                if (op.kind === 'register') {
                  const party = op.members === 0 ? undefined : partyOf(h, op.members);
                  return (await api.register(registrationBody(date.targetOf(op.slot), party)))
                    .status;
                }
                const mine = before.regs.filter((r) => r.householdId === h.id).at(-1);
                return mine ? (await api.cancel(mine.id)).status : 200;
              }),
            );
            const after = await readState(a.dbs, date.dateId);
            const problems = [
              ...answers.filter((s) => s >= 500).map((s) => `an answer was ${s}`),
              ...after.counters
                .filter((c) => c.reserved > c.capacity)
                .map(
                  (c) => `${c.level} ${c.id}: reserved ${c.reserved} over capacity ${c.capacity}`,
                ),
              ...(await drift(a.dbs, date.dateId)),
              ...oneActivePerHousehold(after),
              ...(await settled(a.dbs, date.dateId)),
            ];
            // the seats held under each counter, counted from the registrations themselves
            for (const [key, c] of counterMap(after)) {
              const held = after.regs
                .filter((r) => holds(r) && countersOfTarget(r).includes(key))
                .reduce((sum, r) => sum + r.spots, 0);
              if (held > c.capacity)
                problems.push(`${key}: ${held} seats held, capacity ${c.capacity}`);
            }
            holdsProperty(
              'Property 18',
              `burst ${i} ${JSON.stringify(burst)} → ${answers.join(',')}`,
              problems,
            );
          }
        },
      ),
      fcOptions(10),
    );
  });
});
