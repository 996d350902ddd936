import request from 'supertest';
import { createTestApp, TestContext, token } from '../support/app';
import { createHousehold, TestHousehold } from '../support/households';
import { createSlotDate, SlotDate } from '../support/schedule-fixture';
import { snapshot } from './hostile.support';

const MISSING_ID = '987654321';

// Every participant route with a path id (read from the OpenAPI document, so a new one is
// covered without touching this file), tried by household A on household B's ids: the answer
// must be exactly the one for an id that does not exist, and nothing of B's may change.
describe('one household cannot reach another', () => {
  let ctx: TestContext;
  let date: SlotDate;
  let a: TestHousehold;
  let b: TestHousehold;
  let bRegistration: string;
  let routes: { method: 'get' | 'post' | 'put' | 'patch' | 'delete'; path: string }[];

  const as = (h: TestHousehold) => `Bearer ${token(h.sub)}`;

  beforeAll(async () => {
    // the outbox dispatcher would change rows in the background
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
    date = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 5 });
    a = await createHousehold(ctx.dbs.privateSql, 'household-a');
    b = await createHousehold(ctx.dbs.privateSql, 'household-b');
    const booking = { eventDateId: date.dateId, eventSlotId: date.slotIds[0] };
    await request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', as(a))
      .send(booking)
      .expect(201);
    const mine = await request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', as(b))
      .send(booking)
      .expect(201);
    bRegistration = mine.body.id;

    const doc = await request(ctx.http).get('/docs-json').expect(200);
    routes = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) =>
        Object.keys(ops)
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((method) => ({ method: method as 'get', path })),
    );
  });
  afterAll(async () => ctx.close());

  /** B's id for a participant route, or undefined when the route names no household-owned thing. */
  function victimId(path: string): string | undefined {
    if (path.startsWith('/api/v1/admin') || !path.includes('{')) return undefined;
    if (path.includes('/registrations/')) return bRegistration;
    if (path.includes('/members/')) return b.memberIds[1];
    return undefined;
  }

  // a body that would be accepted on one's own id, so the answer is not a validation error
  function bodyFor(method: string, path: string): object | undefined {
    if (method === 'patch' && path.includes('/registrations/'))
      return { eventSlotId: date.slotIds[1] };
    if (method === 'patch' && path.includes('/members/')) return { firstName: 'Mallory' };
    return undefined;
  }

  it('covers the participant routes with ids', () => {
    const covered = routes
      .filter((r) => victimId(r.path) !== undefined)
      .map((r) => `${r.method} ${r.path}`);
    expect(covered).toEqual(
      expect.arrayContaining([
        'get /api/v1/registrations/{id}',
        'patch /api/v1/registrations/{id}',
        'delete /api/v1/registrations/{id}',
        'patch /api/v1/me/household/members/{id}',
        'delete /api/v1/me/household/members/{id}',
      ]),
    );
  });

  it("answers A on B's ids exactly as on a missing id, and changes nothing", async () => {
    for (const route of routes) {
      const id = victimId(route.path);
      if (id === undefined) continue;
      const call = (target: string) => {
        const agent = request(ctx.http);
        const req = agent[route.method](route.path.replace(/\{\w+\}/, target)).set(
          'Authorization',
          as(a),
        );
        const body = bodyFor(route.method, route.path);
        return body === undefined ? req : req.send(body);
      };
      const before = await snapshot(ctx.dbs);
      const foreign = await call(id);
      const missing = await call(MISSING_ID);
      const seen = `${route.method} ${route.path}: foreign ${foreign.status} ${foreign.text}, missing ${missing.status} ${missing.text}`;
      expect([seen, foreign.status]).toEqual([seen, 404]);
      expect([seen, foreign.body]).toEqual([seen, missing.body]);
      expect([seen, await snapshot(ctx.dbs)]).toEqual([seen, before]);
    }
    // the same calls work for their owner (so the 404s above are about ownership)
    await request(ctx.http)
      .get(`/api/v1/registrations/${bRegistration}`)
      .set('Authorization', as(b))
      .expect(200);
    await request(ctx.http)
      .patch(`/api/v1/me/household/members/${b.memberIds[1]}`)
      .set('Authorization', as(b))
      .send({ firstName: 'Bea' })
      .expect(200);
  });

  it("refuses B's members in A's registration with 403 MEMBER_NOT_IN_HOUSEHOLD and changes nothing", async () => {
    const other = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const before = await snapshot(ctx.dbs);
    const res = await request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', as(a))
      .send({
        eventDateId: other.dateId,
        eventSlotId: other.slotIds[0],
        memberIds: [a.memberIds[0], b.memberIds[0]],
      });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ statusCode: 403, code: 'MEMBER_NOT_IN_HOUSEHOLD' });
    expect(await snapshot(ctx.dbs)).toEqual(before);
  });

  it("never lists B's registrations to A", async () => {
    const list = await request(ctx.http)
      .get('/api/v1/registrations?pageSize=200')
      .set('Authorization', as(a))
      .expect(200);
    expect(list.body.items.map((r: { householdId: string }) => r.householdId)).toEqual([a.id]);
    const filtered = await request(ctx.http)
      .get('/api/v1/registrations?status=confirmed')
      .set('Authorization', as(a))
      .expect(200);
    expect(filtered.body.items.map((r: { id: string }) => r.id)).not.toContain(bRegistration);
  });
});
