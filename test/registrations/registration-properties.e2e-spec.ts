import fc from 'fast-check';
import request from 'supertest';
import { RegistrationService } from '../../src/registrations/registration.service';
import { bearer, createTestApp, TestContext } from '../support/app';
import { createHousehold, createHouseholds, TestHousehold } from '../support/households';
import { createSlotDate } from '../support/schedule-fixture';
import {
  cancelFreesItsSpots,
  capacityRespected,
  counterMap,
  countersOfTarget,
  DateState,
  drift,
  firstFit,
  holds,
  membersBelong,
  noMissedPromotion,
  oneActivePerHousehold,
  openSagas,
  positionsInOrder,
  queueOrder,
  readState,
  RegRow,
  roomOf,
  targetKey,
} from './registration-state';
import {
  Action,
  actionArb,
  changeCapacity,
  createShapedDate,
  dateShapeArb,
  partyOf,
  registrationBody,
  sortedIds,
} from './registration-scenario';

// Random sequences of what participants, the schedule's owner and staff do to one event date,
// driven through the real HTTP app against real MariaDB. After every step both databases are
// read back and held to the invariants (a)-(g), each checked by name. Reproduce a failure with
// FC_SEED=<seed> (and FC_PATH=<path>) from the report.

const RUNS = Number(process.env.FC_RUNS ?? 20);
const HOUSEHOLDS = 6;

const setupArb = fc.record({
  shape: dateShapeArb,
  sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: HOUSEHOLDS, maxLength: HOUSEHOLDS }),
});
type Setup = typeof setupArb extends fc.Arbitrary<infer T> ? T : never;

interface Keyed {
  method: 'post' | 'patch' | 'delete';
  path: string;
  sub: string;
  key: string;
  body?: object;
  status: number;
  response: unknown;
}

describe('registration invariants under random sequences (property-based)', () => {
  let ctx: TestContext;
  let keys = 0;
  const stats = new Map<string, number>();

  beforeAll(async () => {
    // one request at a time: small pools leave the shared MariaDB's connections to others
    ctx = await createTestApp({ PUBLIC_DB_POOL_SIZE: '4', PRIVATE_DB_POOL_SIZE: '4' });
    await ctx.app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    if (process.env.FC_STATS)
      console.log(
        [...stats.entries()]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join('\n'),
      );
    await ctx.close();
  });

  /** One run: a fresh date and households, then the actions, each followed by every check. */
  async function run(setup: Setup, actions: Action[]): Promise<void> {
    const { privateSql } = ctx.dbs;
    const date = await createShapedDate(ctx.dbs, setup.shape);
    const { dateId, slotIds, targetOf, spotsFor } = date;
    const households = await createHouseholds(ctx.dbs.privateSql, setup.sizes);
    const keyed: Keyed[] = [];
    let lastStatus: string; // FC_STATS=1 prints how often each action ended which way
    // a raised capacity is not an operation of ours: until staff promote (or a release runs the
    // date's promotions), a waitlisted registration may fit
    let capacityRaised = false;

    const latest = (state: DateState, h: TestHousehold): RegRow | undefined =>
      state.regs.filter((r) => r.householdId === h.id && r.status !== 'failed').at(-1);
    const activeOf = (state: DateState, h: TestHousehold): RegRow | undefined =>
      state.regs.find(
        (r) => r.householdId === h.id && (r.status === 'confirmed' || r.status === 'waitlisted'),
      );

    async function send(
      method: 'post' | 'patch' | 'delete',
      path: string,
      sub: string,
      body: object | undefined,
      withKey: boolean,
    ): Promise<request.Response> {
      const req = request(ctx.http)[method](path).set('Authorization', bearer(sub));
      const key = withKey ? `prop-${++keys}` : undefined;
      if (key) req.set('Idempotency-Key', key);
      const res = await (body ? req.send(body) : req);
      lastStatus = `${res.status} ${res.body.status ?? res.body.code}`;
      if (key) keyed.push({ method, path, sub, key, body, status: res.status, response: res.body });
      return res;
    }

    /** (d) the positions each waitlisted registration's household sees through the API. */
    async function apiPositions(state: DateState): Promise<Map<string, number | null>> {
      const waiting = state.regs.filter((r) => r.status === 'waitlisted');
      const answers = await Promise.all(
        waiting.map((r) =>
          request(ctx.http)
            .get(`/api/v1/registrations/${r.id}`)
            .set('Authorization', bearer(households.find((h) => h.id === r.householdId)!.sub))
            .expect(200),
        ),
      );
      return new Map(
        answers.map((res) => [res.body.id as string, res.body.waitlistPosition as number | null]),
      );
    }

    const check = (name: string, problems: string[]) => {
      if (problems.length > 0) throw new Error(`property ${name} broken: ${problems.join('; ')}`);
    };

    let before = await readState(ctx.dbs, dateId);
    for (const [step, action] of actions.entries()) {
      const where = `step ${step} ${JSON.stringify(action)}`;
      const expectations: string[] = [];
      const expectThat = (ok: boolean, what: string) => {
        if (!ok) expectations.push(what);
      };
      let promotionsRan = false;
      lastStatus = '';

      switch (action.kind) {
        case 'register': {
          const h = households[action.h];
          const target = targetOf(action.slot);
          const party = action.members === 0 ? h.memberIds : partyOf(h, action.members);
          const body = registrationBody(
            target,
            action.members === 0 ? undefined : party,
            action.joinWaitlist,
          );
          const res = await send('post', '/api/v1/registrations', h.sub, body, action.keyed);
          const spots = spotsFor(party);
          // Room that appeared behind the service's back (a capacity raise) belongs to the queue:
          // the oldest waitlisted that fit are seated first (first fit), the newcomer gets what
          // is left, and if it waits it waits behind those still queued.
          let room = roomOf(before, target);
          let queue = 0;
          const waiting = before.regs
            .filter((r) => r.status === 'waitlisted' && targetKey(r) === targetKey(target))
            .sort(queueOrder);
          for (const w of waiting) {
            if (w.spots <= room) room -= w.spots;
            else queue++;
          }
          // a refused request (already registered) changes nothing, promotions included
          if (queue < waiting.length && !activeOf(before, h)) promotionsRan = true;
          if (activeOf(before, h)) {
            expectThat(
              res.status === 409 && res.body.code === 'ALREADY_REGISTERED',
              `(c) second registration: ${res.status} ${res.body.code}`,
            );
          } else if (room >= spots) {
            expectThat(
              res.status === 201 && res.body.status === 'confirmed',
              `room ${room} for ${spots}: ${res.status} ${res.body.status ?? res.body.code}`,
            );
          } else if (action.joinWaitlist) {
            expectThat(
              res.status === 201 &&
                res.body.status === 'waitlisted' &&
                res.body.waitlistPosition === queue + 1,
              `(d) no room: expected waitlisted at ${queue + 1}, got ${res.status} ${res.body.status} ${res.body.waitlistPosition}`,
            );
          } else {
            expectThat(
              res.status === 409 && res.body.code === 'CAPACITY_FULL',
              `declined waitlist: ${res.status} ${res.body.code}`,
            );
          }
          if (res.status === 201) {
            expectThat(
              JSON.stringify(res.body.memberIds) === JSON.stringify(sortedIds(party)) &&
                res.body.spots === spots &&
                res.body.partySize === party.length &&
                res.body.householdId === h.id &&
                res.body.eventSlotId === target.eventSlotId,
              `(f) registration body ${JSON.stringify(res.body)} for party ${party.join(',')}`,
            );
          }
          break;
        }
        case 'cancel': {
          const h = households[action.h];
          const r = latest(before, h);
          if (!r) continue;
          const res = await send(
            'delete',
            `/api/v1/registrations/${r.id}`,
            h.sub,
            undefined,
            action.keyed,
          );
          expectThat(
            res.status === 200 && res.body.status === 'cancelled',
            `cancel: ${res.status} ${res.body.code}`,
          );
          if (r.status !== 'cancelled') promotionsRan = true;
          const after = await readState(ctx.dbs, dateId);
          if (r.status === 'cancelled') {
            const again = after.regs.find((x) => x.id === r.id)!;
            expectThat(
              again.version === r.version,
              '(e) cancelling a cancelled registration changed it',
            );
          }
          for (const p of cancelFreesItsSpots(before, after, r)) expectThat(false, `(e) ${p}`);
          break;
        }
        case 'move': {
          const h = households[action.h];
          const r = activeOf(before, h);
          if (!r) continue;
          const to = targetOf(action.slot);
          const res = await send(
            'patch',
            `/api/v1/registrations/${r.id}`,
            h.sub,
            { eventSlotId: to.eventSlotId ?? slotIds[0] ?? 1 },
            action.keyed,
          );
          if (setup.shape.level === 'date') {
            expectThat(
              res.status === 422 && res.body.code === 'SLOT_NOT_ALLOWED',
              `move on a date booking: ${res.status} ${res.body.code}`,
            );
            break;
          }
          if (to.eventSlotId === r.eventSlotId) {
            expectThat(res.status === 200, `move to its own slot: ${res.status} ${res.body.code}`);
            promotionsRan = res.status === 200;
            break;
          }
          const counters = counterMap(before);
          const room = (key: string) => counters.get(key)!.capacity - counters.get(key)!.reserved;
          const oldKeys = holds(r) ? countersOfTarget(r) : [];
          const fresh = countersOfTarget(to).filter((k) => !oldKeys.includes(k));
          // A move succeeds exactly when the counters it newly occupies have room: a move within
          // one hour changes neither the hour's nor the date's count (the saga's net move).
          const mustMove = fresh.every((k) => room(k) >= r.spots);
          const mustRefuse = fresh.some((k) => room(k) < r.spots);
          if (mustMove) {
            expectThat(
              res.status === 200 &&
                res.body.status === 'confirmed' &&
                res.body.eventSlotId === to.eventSlotId,
              `move of ${r.status} ${r.id} (${r.spots}) to ${to.eventSlotId} with room: ${res.status} ${res.body.code}`,
            );
          }
          if (mustRefuse) {
            expectThat(
              res.status === 409 && res.body.code === 'CAPACITY_FULL',
              `move without room: ${res.status} ${res.body.code}`,
            );
          }
          if (res.status === 409) {
            const unchanged = (await readState(ctx.dbs, dateId)).regs.find((x) => x.id === r.id)!;
            expectThat(
              unchanged.status === r.status &&
                unchanged.eventSlotId === r.eventSlotId &&
                unchanged.spots === r.spots,
              'refused move changed the registration',
            );
          }
          promotionsRan = res.status === 200;
          break;
        }
        case 'party': {
          const h = households[action.h];
          const r = activeOf(before, h);
          if (!r) continue;
          const party = partyOf(h, action.members);
          const res = await send(
            'patch',
            `/api/v1/registrations/${r.id}`,
            h.sub,
            { memberIds: party },
            action.keyed,
          );
          const extra = spotsFor(party) - r.spots;
          const fits = !holds(r) || extra <= 0 || roomOf(before, r) >= extra;
          if (fits) {
            expectThat(
              res.status === 200 &&
                JSON.stringify(res.body.memberIds) === JSON.stringify(sortedIds(party)),
              `party change that fits: ${res.status} ${res.body.code}`,
            );
            expectThat(
              res.status !== 200 || res.body.spots === spotsFor(party),
              `(f) spots ${res.body.spots} for ${party.length}`,
            );
          } else {
            expectThat(
              res.status === 409 && res.body.code === 'CAPACITY_FULL',
              `party change without room: ${res.status} ${res.body.code}`,
            );
          }
          promotionsRan = res.status === 200;
          break;
        }
        case 'capacity': {
          const c = await changeCapacity(ctx.dbs, date, before, action);
          if (c.after > c.before) capacityRaised = true;
          break;
        }
        case 'promote': {
          const promoted = await ctx.app.get(RegistrationService).promoteDate(dateId, 'test');
          const after = await readState(ctx.dbs, dateId);
          const was = new Map(before.regs.map((x) => [x.id, x.status]));
          const confirmed = after.regs
            .filter((x) => was.get(x.id) === 'waitlisted' && x.status === 'confirmed')
            .map((x) => x.id);
          expectThat(
            JSON.stringify([...promoted].sort()) === JSON.stringify(confirmed.sort()),
            `promote returned ${promoted.join(',')} but confirmed ${confirmed.join(',')}`,
          );
          promotionsRan = true;
          break;
        }
        case 'burst': {
          // sent at once; the model cannot say who wins a seat, so the answers are held to what
          // each request may get, and the invariants below to the rest
          const cancelling = new Set(
            action.ops.filter((o) => o.cancel && activeOf(before, households[o.h])).map((o) => o.h),
          );
          const registering = new Map<number, number>();
          for (const o of action.ops)
            if (!cancelling.has(o.h) || !o.cancel)
              registering.set(o.h, (registering.get(o.h) ?? 0) + 1);
          const answers = await Promise.all(
            action.ops.map(async (o) => {
              const h = households[o.h];
              const mine = activeOf(before, h);
              if (o.cancel && mine) {
                const res = await send(
                  'delete',
                  `/api/v1/registrations/${mine.id}`,
                  h.sub,
                  undefined,
                  true,
                );
                return { o, res, cancel: true };
              }
              const target = targetOf(o.slot);
              const body = {
                eventDateId: dateId,
                ...(target.eventSlotId === null ? {} : { eventSlotId: target.eventSlotId }),
              };
              return {
                o,
                res: await send('post', '/api/v1/registrations', h.sub, body, true),
                cancel: false,
              };
            }),
          );
          for (const { o, res, cancel } of answers) {
            const h = households[o.h];
            if (cancel) {
              expectThat(
                res.status === 200 && res.body.status === 'cancelled',
                `burst cancel: ${res.status} ${res.body.code}`,
              );
              continue;
            }
            // a household already registered (and not cancelling in the burst), or registering
            // twice in it, may be refused as ALREADY_REGISTERED; anyone else is seated or queued
            const mayBeRefused =
              (activeOf(before, h) !== undefined && !cancelling.has(o.h)) ||
              cancelling.has(o.h) ||
              (registering.get(o.h) ?? 0) > 1;
            const seatedOrQueued =
              res.status === 201 &&
              ['confirmed', 'waitlisted'].includes(res.body.status as string) &&
              res.body.householdId === h.id;
            const refused = res.status === 409 && res.body.code === 'ALREADY_REGISTERED';
            expectThat(
              seatedOrQueued || (mayBeRefused && refused),
              `burst register of household ${o.h}: ${res.status} ${res.body.status ?? res.body.code}`,
            );
            if (activeOf(before, h) !== undefined && !cancelling.has(o.h))
              expectThat(refused, `(c) burst second registration: ${res.status} ${res.body.code}`);
          }
          // a cancel runs every queue's promotions; registrations alone run only their own
          // target's, so room a capacity raise left elsewhere may still be waiting for one
          if (cancelling.size > 0) promotionsRan = true;
          break;
        }
        case 'replay': {
          if (keyed.length === 0) continue;
          const k = keyed[action.pick % keyed.length];
          const agent = request(ctx.http);
          const req = agent[k.method](k.path)
            .set('Authorization', bearer(k.sub))
            .set('Idempotency-Key', k.key);
          const res = await (k.body ? req.send(k.body) : req);
          const after = await readState(ctx.dbs, dateId);
          // (g) the same answer, marked as a replay, and nothing changed in either database
          expectThat(
            res.status === k.status && JSON.stringify(res.body) === JSON.stringify(k.response),
            `(g) replay of ${k.method} ${k.path} answered ${res.status} ${JSON.stringify(res.body)}, first ${k.status} ${JSON.stringify(k.response)}`,
          );
          expectThat(
            res.headers['idempotent-replayed'] === 'true',
            '(g) replay not marked Idempotent-Replayed',
          );
          expectThat(
            JSON.stringify(after) === JSON.stringify(before),
            '(g) replay changed the databases',
          );
          break;
        }
      }

      const after = await readState(ctx.dbs, dateId);
      if (process.env.FC_STATS)
        stats.set(
          `${action.kind} ${lastStatus}`,
          (stats.get(`${action.kind} ${lastStatus}`) ?? 0) + 1,
        );
      if (promotionsRan) capacityRaised = false;
      check(`${where}: expected answers`, expectations);
      check(`(a) ${where}: never more confirmed than capacity`, capacityRespected(before, after));
      check(`(b) ${where}: counters equal confirmed spots`, await drift(ctx.dbs, dateId));
      check(`(c) ${where}: one active registration per household`, oneActivePerHousehold(after));
      check(
        `(d) ${where}: waitlist positions 1..n oldest first`,
        positionsInOrder(after, await apiPositions(after)),
      );
      if (!capacityRaised) check(`(e) ${where}: no missed promotion`, noMissedPromotion(after));
      check(`(e) ${where}: oldest first-fit`, firstFit(before, after));
      check(
        `(f) ${where}: members belong to the household`,
        await membersBelong(privateSql, dateId),
      );
      const leftovers = [
        ...after.regs
          .filter((r) => r.status === 'pending' || r.pendingSagaId !== null)
          .map((r) => `registration ${r.id} ${r.status} held by ${r.pendingSagaId}`),
        ...(await openSagas(privateSql, dateId)).map((s) => `saga ${s.id} ${s.kind} ${s.state}`),
      ];
      check(`${where}: nothing left half-done`, leftovers);
      before = after;
    }
  }

  it('keeps (a) capacity, (b) counters = confirmed spots, (c) one active per household, (d) gapless oldest-first positions, (e) exact frees and first-fit promotion, (f) own members, (g) idempotent replays', async () => {
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
    await fc.assert(
      fc.asyncProperty(
        setupArb,
        fc.array(actionArb(HOUSEHOLDS), { minLength: 8, maxLength: 25, size: 'max' }),
        run,
      ),
      {
        numRuns: RUNS,
        seed,
        path: process.env.FC_PATH,
        endOnFailure: process.env.FC_SHRINK === undefined,
      },
    );
  }, 170_000);

  // Found by the property above (seed -624201899): a move inside one hour needs no room on the
  // hour or the date, yet the saga takes slot, hour and date of the new slot before releasing the
  // old ones, so a full hour (or date) refuses it with CAPACITY_FULL. Fixing it needs a move leg
  // that only touches the counters that differ; this case passes once that lands (then drop
  // `.failing` and tighten the move model above).
  it('moves a confirmed registration into a free slot of a full hour', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, {
      slots: 2,
      slotCapacity: 1,
      hourCapacity: 1,
      dateCapacity: 1,
    });
    const h = await createHousehold(ctx.dbs.privateSql);
    const r = await request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', bearer(h.sub))
      .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const moved = await request(ctx.http)
      .patch(`/api/v1/registrations/${r.body.id}`)
      .set('Authorization', bearer(h.sub))
      .send({ eventSlotId: s.slotIds[1] });
    expect([r.status, r.body.status]).toEqual([201, 'confirmed']);
    expect([moved.status, moved.body.status, moved.body.eventSlotId]).toEqual([
      200,
      'confirmed',
      s.slotIds[1],
    ]);
  });
});
