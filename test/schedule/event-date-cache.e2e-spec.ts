import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { createHousehold } from '../support/households';
import { createSlotDate } from '../support/schedule-fixture';

describe('event date cache (SCHEDULE_CACHE_MS)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp({ SCHEDULE_CACHE_MS: '400' });
  });
  afterAll(async () => ctx.close());

  const reserved = async (dateId: number) =>
    (await request(ctx.http).get(`/api/v1/event-dates/${dateId}`).expect(200)).body
      .reserved as number;

  it("shows this instance's own registration at once", async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    expect(await reserved(s.dateId)).toBe(0);
    const h = await createHousehold(ctx.dbs.privateSql);
    await request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', bearer(h.sub))
      .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
      .expect(201);
    expect(await reserved(s.dateId)).toBe(1);
  });

  it('serves a change made elsewhere within the configured staleness, never later', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    expect(await reserved(s.dateId)).toBe(0);
    // the schedule's owner (or another instance) changes the counter behind this instance's back
    await ctx.dbs.publicSql.query('UPDATE event_dates SET reserved = 2 WHERE event_date_id = ?', [
      s.dateId,
    ]);
    const changedAt = Date.now();
    let seen = await reserved(s.dateId);
    while (seen !== 2) {
      expect(Date.now() - changedAt).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 50));
      seen = await reserved(s.dateId);
    }
  });
});
