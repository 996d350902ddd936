import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { createHousehold } from '../support/households';
import { createSlotDate } from '../support/schedule-fixture';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const reservedOn = async (ctx: TestContext, dateId: number) =>
  (await request(ctx.http).get(`/api/v1/event-dates/${dateId}`).expect(200)).body
    .reserved as number;

const register = async (ctx: TestContext, dateId: number, slotId: number) => {
  const h = await createHousehold(ctx.dbs.privateSql);
  await request(ctx.http)
    .post('/api/v1/registrations')
    .set('Authorization', bearer(h.sub))
    .send({ eventDateId: dateId, eventSlotId: slotId })
    .expect(201);
};

/** Reads until `expected` shows; fails if it never does (long before the copy would expire). */
async function eventually(read: () => Promise<number>, expected: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if ((await read()) === expected) return;
    await sleep(25);
  }
  expect(await read()).toBe(expected);
}

describe('event date copy (SCHEDULE_CACHE_MS), one instance', () => {
  let ctx: TestContext;
  const TTL = 400;
  beforeAll(async () => {
    ctx = await createTestApp({ SCHEDULE_CACHE_MS: String(TTL) });
  });
  afterAll(async () => ctx.close());

  it("shows this instance's own registration at once", async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    expect(await reservedOn(ctx, s.dateId)).toBe(0);
    await register(ctx, s.dateId, s.slotIds[0]);
    expect(await reservedOn(ctx, s.dateId)).toBe(1);
  });

  it('never serves a copy older than the expiry, even for an edit behind its back', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const before = Date.now();
    expect(await reservedOn(ctx, s.dateId)).toBe(0);
    // the schedule's owner changes the counter behind the service's back: no event announces it
    await ctx.dbs.publicSql.query('UPDATE event_dates SET reserved = 2 WHERE event_date_id = ?', [
      s.dateId,
    ]);
    // every answer given once the first copy is past its expiry shows the edit
    for (;;) {
      const asked = Date.now();
      const seen = await reservedOn(ctx, s.dateId);
      if (asked - before > TTL) {
        expect(seen).toBe(2);
        break;
      }
      await sleep(50);
    }
  });

  it('answers If-None-Match with 304 until the date changes, then with the new figures', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const url = `/api/v1/event-dates/${s.dateId}`;
    const first = await request(ctx.http).get(url).expect(200);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.headers['cache-control']).toBe('no-cache');

    const same = await request(ctx.http).get(url).set('If-None-Match', etag).expect(304);
    expect(same.text).toBe('');
    expect(same.headers.etag).toBe(etag);
    // a weak comparison, a list and * match too; another tag does not
    await request(ctx.http).get(url).set('If-None-Match', `"x", W/${etag}`).expect(304);
    await request(ctx.http).get(url).set('If-None-Match', '*').expect(304);
    await request(ctx.http).get(url).set('If-None-Match', '"something-else"').expect(200);

    await register(ctx, s.dateId, s.slotIds[0]);
    const changed = await request(ctx.http).get(url).set('If-None-Match', etag).expect(200);
    expect(changed.body.reserved).toBe(1);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('gives the events listing an ETag that answers 304 while it is unchanged', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const listing = await request(ctx.http).get('/api/v1/events?pageSize=100').expect(200);
    const etag = String(listing.headers.etag);
    expect(listing.body.items.length).toBeGreaterThan(0);
    await request(ctx.http)
      .get('/api/v1/events?pageSize=100')
      .set('If-None-Match', etag)
      .expect(304);
    await register(ctx, s.dateId, s.slotIds[0]);
    const after = await request(ctx.http)
      .get('/api/v1/events?pageSize=100')
      .set('If-None-Match', etag)
      .expect(200);
    expect(after.headers.etag).not.toBe(etag);
  });

  it('keeps the contract for a date that does not exist: 404, no ETag', async () => {
    const res = await request(ctx.http).get('/api/v1/event-dates/987654321').expect(404);
    expect(res.body.code).toBe('EVENT_DATE_NOT_FOUND');
    expect(res.headers.etag).toBeUndefined();
  });
});

describe('event date copy, two instances on one Redis', () => {
  let one: TestContext;
  let two: TestContext;
  beforeAll(async () => {
    // an expiry far longer than the test: only the Redis message can refresh the other copy
    const env = { REDIS_URL, SCHEDULE_CACHE_MS: '60000' };
    one = await createTestApp(env);
    two = await createTestApp(env, one.dbs);
  });
  afterAll(async () => {
    await two.close();
    await one.close();
  });

  it("drops the other instance's copy when one instance registers", async () => {
    const s = await createSlotDate(one.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    expect(await reservedOn(two, s.dateId)).toBe(0);
    // the copy is really held: a change behind both instances' backs does not show
    await one.dbs.publicSql.query('UPDATE event_dates SET capacity = 7 WHERE event_date_id = ?', [
      s.dateId,
    ]);
    const held = await request(two.http).get(`/api/v1/event-dates/${s.dateId}`).expect(200);
    expect(held.body.capacity).not.toBe(7);

    await register(one, s.dateId, s.slotIds[0]);
    await eventually(() => reservedOn(two, s.dateId), 1);
  });

  it("drops the other instance's copy when staff change the date's settings", async () => {
    const s = await createSlotDate(one.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const waitlistOn = async () =>
      (await request(two.http).get(`/api/v1/event-dates/${s.dateId}`).expect(200)).body.waitlist
        .enabled as boolean;
    const before = await waitlistOn();
    await request(one.http)
      .put(`/api/v1/admin/event-dates/${s.dateId}/settings`)
      .set('Authorization', bearer('cache-staff', ['staff']))
      .send({ waitlistEnabled: !before })
      .expect(200);
    await eventually(async () => Number(await waitlistOn()), Number(!before));
  });
});
