import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { counterDrift, createHousehold, TestHousehold } from '../support/households';
import { counters, createSlotDate } from '../support/schedule-fixture';
import {
  noMissedPromotion,
  oneActivePerHousehold,
  placesUnique,
  positionsInOrder,
  readState,
  settled,
  waitlists,
} from './registration-state';

// Two app instances on the same databases, requests alternating between them: nothing that
// guards capacity, ordering or idempotency may live in one process's memory.

describe('registrations under concurrency (two instances, one database pair)', () => {
  let a: TestContext;
  let b: TestContext;
  const instance = (i: number) => (i % 2 === 0 ? a : b).http;

  beforeAll(async () => {
    // 6 + 6 connections per instance: a real pool for the rush, while leaving room on a shared server
    const pools = { PUBLIC_DB_POOL_SIZE: '6', PRIVATE_DB_POOL_SIZE: '6' };
    a = await createTestApp(pools);
    b = await createTestApp(pools, a.dbs);
    await a.app.listen(0, '127.0.0.1');
    await b.app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const register = (i: number, sub: string, body: object, key?: string) => {
    const req = request(instance(i))
      .post('/api/v1/registrations')
      .set('Authorization', bearer(sub));
    if (key) req.set('Idempotency-Key', key);
    return req.send(body);
  };
  const cancel = (i: number, sub: string, id: string) =>
    request(instance(i)).delete(`/api/v1/registrations/${id}`).set('Authorization', bearer(sub));

  async function households(n: number, members = 1): Promise<TestHousehold[]> {
    const list: TestHousehold[] = [];
    for (let i = 0; i < n; i++)
      list.push(await createHousehold(a.dbs.privateSql, undefined, members));
    return list;
  }

  /** What each waitlisted registration's household sees as its position, a few requests at a time. */
  async function positions(
    dateId: number,
    owners: Map<string, string>,
  ): Promise<Map<string, number | null>> {
    const waiting = (await readState(a.dbs, dateId)).regs.filter((r) => r.status === 'waitlisted');
    const seen = new Map<string, number | null>();
    for (let i = 0; i < waiting.length; i += 25) {
      const answers = await Promise.all(
        waiting.slice(i, i + 25).map((r, j) =>
          request(instance(i + j + 1))
            .get(`/api/v1/registrations/${r.id}`)
            .set('Authorization', bearer(owners.get(r.householdId)!))
            .expect(200),
        ),
      );
      for (const res of answers) seen.set(res.body.id, res.body.waitlistPosition);
    }
    return seen;
  }

  it('300 households at once for 20 seats: exactly 20 confirmed, 280 waitlisted told positions 1..280 each once, and each reads back the position it was told', async () => {
    const s = await createSlotDate(a.dbs.publicSql, {
      slots: 1,
      slotCapacity: 20,
      hourCapacity: 20,
      dateCapacity: 20,
    });
    const crowd = await households(300);
    const answers = await Promise.all(
      crowd.map((h, i) => register(i, h.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] })),
    );
    expect(answers.filter((r) => r.status !== 201).map((r) => [r.status, r.body.code])).toEqual([]);
    expect(answers.filter((r) => r.body.status === 'confirmed')).toHaveLength(20);
    const waitlisted = answers.filter((r) => r.body.status === 'waitlisted');
    expect(waitlisted).toHaveLength(280);
    // issue 12: the positions told are 1..280, each to exactly one household
    const told = new Map<string, number>(
      waitlisted.map((r) => [r.body.id as string, r.body.waitlistPosition as number]),
    );
    expect([...told.values()].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 280 }, (_, i) => i + 1),
    );

    const state = await readState(a.dbs, s.dateId);
    const queue = waitlists(state).get(`${s.dateId}/${s.slotIds[0]}`)!;
    expect(queue).toHaveLength(280);
    expect(placesUnique(state)).toEqual([]);
    // read back (through both instances, after the storm): the very position each was told
    const seen = await positions(s.dateId, new Map(crowd.map((h) => [h.id, h.sub])));
    const differ = [...told].filter(([id, position]) => seen.get(id) !== position);
    expect(
      differ.map(([id, position]) => `${id}: told ${position}, reads ${seen.get(id)}`),
    ).toEqual([]);
    // positions in queue order: 1..280, no gaps, no repeats
    expect(queue.map((r) => seen.get(r.id))).toEqual(queue.map((_, i) => i + 1));
    expect(positionsInOrder(state, seen)).toEqual([]);
    const c = await counters(a.dbs.publicSql, {
      dateId: s.dateId,
      hourId: s.hourId,
      slotId: s.slotIds[0],
    });
    expect([c.slot.reserved, c.hour.reserved, c.date.reserved]).toEqual([20, 20, 20]);
    expect(await counterDrift(a.dbs.publicSql, a.dbs.privateSql, s.dateId)).toEqual([]);
    expect(await settled(a.dbs, s.dateId)).toEqual([]);
  }, 120_000);

  it('one household firing the same POST ten times at once: with a key one registration and one answer; without, one 201 and nine ALREADY_REGISTERED', async () => {
    const s = await createSlotDate(a.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const [keyed, unkeyed] = await households(2, 2);
    const body = { eventDateId: s.dateId, eventSlotId: s.slotIds[0] };

    const withKey = await Promise.all(
      Array.from({ length: 10 }, (_, i) => register(i, keyed.sub, body, 'same-key')),
    );
    const created = withKey.filter((r) => r.status === 201);
    const inUse = withKey.filter((r) => r.status === 409);
    expect(created.length + inUse.length).toBe(10);
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const r of created) expect(r.body).toEqual(created[0].body);
    for (const r of inUse) {
      expect(r.body).toMatchObject({
        statusCode: 409,
        code: 'IDEMPOTENCY_KEY_IN_USE',
        message: expect.any(String),
      });
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    const replay = await register(0, keyed.sub, body, 'same-key').expect(201);
    expect(replay.body).toEqual(created[0].body);

    const withoutKey = await Promise.all(
      Array.from({ length: 10 }, (_, i) => register(i, unkeyed.sub, body)),
    );
    expect(withoutKey.filter((r) => r.status === 201)).toHaveLength(1);
    expect(
      withoutKey.filter((r) => r.status === 409 && r.body.code === 'ALREADY_REGISTERED'),
    ).toHaveLength(9);

    const state = await readState(a.dbs, s.dateId);
    expect(state.regs.filter((r) => r.householdId === keyed.id).map((r) => r.id)).toEqual([
      created[0].body.id,
    ]);
    expect(state.regs.filter((r) => r.householdId === unkeyed.id)).toHaveLength(1);
    expect((await counters(a.dbs.publicSql, { dateId: s.dateId })).date.reserved).toBe(2);
    expect(await counterDrift(a.dbs.publicSql, a.dbs.privateSql, s.dateId)).toEqual([]);
    expect(await settled(a.dbs, s.dateId)).toEqual([]);
  });

  it('cancels and registrations racing on a full slot with a waitlist: counters stay exact, no one waits while room exists', async () => {
    const s = await createSlotDate(a.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const people = await households(60);
    const owners = new Map(people.map((h) => [h.id, h.sub]));
    const body = { eventDateId: s.dateId, eventSlotId: s.slotIds[0] };
    let next = 0;
    // fill the slot and queue a waitlist, in order
    for (; next < 13; next++) await register(next, people[next].sub, body).expect(201);

    for (let round = 0; round < 4; round++) {
      const state = await readState(a.dbs, s.dateId);
      const confirmed = state.regs.filter((r) => r.status === 'confirmed');
      const waiting = state.regs.filter((r) => r.status === 'waitlisted');
      const leaving = [...confirmed.slice(0, 3), ...waiting.slice(-2)];
      const joining = people.slice(next, next + 6);
      next += 6;
      const answers = await Promise.all([
        ...leaving.map((r, i) => cancel(i, owners.get(r.householdId)!, r.id)),
        ...joining.map((h, i) => register(i + 1, h.sub, body)),
      ]);
      expect(answers.filter((r) => r.status >= 300).map((r) => [r.status, r.body.code])).toEqual(
        [],
      );

      const after = await readState(a.dbs, s.dateId);
      expect(await counterDrift(a.dbs.publicSql, a.dbs.privateSql, s.dateId)).toEqual([]);
      expect(noMissedPromotion(after)).toEqual([]);
      expect(oneActivePerHousehold(after)).toEqual([]);
      expect(positionsInOrder(after, await positions(s.dateId, owners))).toEqual([]);
      expect(await settled(a.dbs, s.dateId)).toEqual([]);
      expect(after.regs.filter((r) => r.status === 'confirmed')).toHaveLength(5);
    }
  }, 60_000);
});
