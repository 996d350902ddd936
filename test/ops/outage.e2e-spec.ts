import request from 'supertest';
import { RecoveryService } from '../../src/registrations/saga/recovery.service';
import { bearer, createTestApp, TestContext } from '../support/app';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { counterDrift, createHousehold } from '../support/households';
import { counters, createSlotDate, seedDimTimes } from '../support/schedule-fixture';
import { TcpProxy } from '../support/tcp-proxy';

// A database goes away under the running service (a proxy the test cuts), then comes back:
// clean 503s during, normal service after, consistent data throughout, no restart.
describe('database outages', () => {
  let dbs: TestDatabases;
  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
  });
  afterAll(async () => dbs.drop());

  async function appBehind(
    proxy: TcpProxy,
    which: 'PUBLIC_DB_URL' | 'PRIVATE_DB_URL',
  ): Promise<TestContext> {
    const port = await proxy.start();
    const url = which === 'PUBLIC_DB_URL' ? dbs.publicUrl : dbs.privateUrl;
    return createTestApp(
      {
        [which]: url.replace(':3306/', `:${port}/`),
        PUBLIC_DB_POOL_SIZE: '3',
        PRIVATE_DB_POOL_SIZE: '3',
        SAGA_GRACE_SECONDS: '1',
      },
      dbs,
    );
  }

  it('public database down: registrations fail fast with 503 and write nothing; own registrations still read; all recovers', async () => {
    const proxy = new TcpProxy();
    const ctx = await appBehind(proxy, 'PUBLIC_DB_URL');
    try {
      const s = await createSlotDate(dbs.publicSql, { slots: 2, slotCapacity: 1 });
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => createHousehold(dbs.privateSql)));
      const mine = await request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(a.sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
        .expect(201);
      const waiting = await request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(b.sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
        .expect(201);
      expect(waiting.body.status).toBe('waitlisted');

      await proxy.cut();
      const started = Date.now();
      const refused = await request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(c.sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[1] });
      expect([refused.status, refused.body.code]).toEqual([503, 'SCHEDULE_UNAVAILABLE']);
      expect(refused.headers['retry-after']).toBeDefined();
      expect(Date.now() - started).toBeLessThan(10_000);
      const [rows] = await dbs.privateSql.query<any[]>(
        'SELECT COUNT(*) AS n FROM event_registrations WHERE household_id = ?',
        [c.id],
      );
      expect(Number(rows[0].n)).toBe(0);
      await request(ctx.http)
        .get('/api/v1/registrations')
        .set('Authorization', bearer(a.sub))
        .expect(200);
      await request(ctx.http)
        .get(`/api/v1/registrations/${mine.body.id}`)
        .set('Authorization', bearer(a.sub))
        .expect(200);
      // a cancel commits; its give-back and the promotion wait for the schedule to return
      const cancelled = await request(ctx.http)
        .delete(`/api/v1/registrations/${mine.body.id}`)
        .set('Authorization', bearer(a.sub))
        .expect(200);
      expect(cancelled.body.status).toBe('cancelled');
      expect((await counters(dbs.publicSql, { dateId: s.dateId })).date.reserved).toBe(1);

      await proxy.restore();
      const left = await ctx.app.get(RecoveryService).drain(20_000);
      expect(left).toBe(0);
      expect(await counterDrift(dbs.publicSql, dbs.privateSql, s.dateId)).toEqual([]);
      const promoted = await request(ctx.http)
        .get(`/api/v1/registrations/${waiting.body.id}`)
        .set('Authorization', bearer(b.sub))
        .expect(200);
      expect(promoted.body.status).toBe('confirmed');
      const after = await request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(c.sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[1] })
        .expect(201);
      expect(after.body.status).toBe('confirmed');
      expect(await counterDrift(dbs.publicSql, dbs.privateSql, s.dateId)).toEqual([]);
    } finally {
      await ctx.close();
      await proxy.cut();
    }
  });

  it('private database down: 503 and nothing reserved in public; service resumes when it returns', async () => {
    const proxy = new TcpProxy();
    const ctx = await appBehind(proxy, 'PRIVATE_DB_URL');
    try {
      const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 5 });
      const h = await createHousehold(dbs.privateSql);
      await proxy.cut();
      const refused = await request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(h.sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
      expect([refused.status, refused.body.code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
      expect((await counters(dbs.publicSql, { dateId: s.dateId })).date.reserved).toBe(0);
      await proxy.restore();
      const ok = await request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(h.sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
        .expect(201);
      expect(ok.body.status).toBe('confirmed');
      expect(await counterDrift(dbs.publicSql, dbs.privateSql, s.dateId)).toEqual([]);
    } finally {
      await ctx.close();
      await proxy.cut();
    }
  });
});
