import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { createHousehold, TestHousehold } from '../support/households';
import { createSlotDate, dateKeyFromToday, SlotDate } from '../support/schedule-fixture';
import { snapshot } from '../security/hostile.support';

// Every write route of the generated OpenAPI document (POST, PUT, PATCH, DELETE) is sent twice
// with one Idempotency-Key and one body. The second answer must be the first one replayed (same
// status, same body, Idempotent-Replayed: true) and must change no row in either database: one
// effect. A write route added without an entry below fails the first test, so none is skipped.

type Method = 'post' | 'put' | 'patch' | 'delete';
const WRITES: string[] = ['post', 'put', 'patch', 'delete'];
interface DocOperation {
  parameters?: { in: string; name: string }[];
}
interface Write {
  auth: string;
  path: string;
  body?: Record<string, unknown>;
}

const staff = bearer('replay-staff', ['staff']);
const member = { firstName: 'Ana', lastName: 'Lopez', dateOfBirth: '1984-03-09' };

describe('every write route honours Idempotency-Key', () => {
  let ctx: TestContext;
  let writes: { method: Method; path: string; documented: boolean }[];
  let key = 0;

  beforeAll(async () => {
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
    const doc = await request(ctx.http).get('/docs-json').expect(200);
    const paths = doc.body.paths as Record<string, Record<string, DocOperation>>;
    writes = Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter((e): e is [Method, DocOperation] => WRITES.includes(e[0]))
        .map(([method, op]) => ({
          method,
          path,
          documented: (op.parameters ?? []).some(
            (p) => p.in === 'header' && p.name === 'Idempotency-Key',
          ),
        })),
    );
  });
  afterAll(async () => ctx.close());

  const household = (members = 2) => createHousehold(ctx.dbs.privateSql, undefined, members);
  const slotDate = (o: { slotCapacity?: number; dateKey?: number } = {}) =>
    createSlotDate(ctx.dbs.publicSql, { slots: 2, ...o });
  async function registered(h: TestHousehold, date: SlotDate, slot = 0): Promise<string> {
    const res = await request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', bearer(h.sub))
      .send({ eventDateId: date.dateId, eventSlotId: date.slotIds[slot] })
      .expect(201);
    return res.body.id as string;
  }

  // one request per route that succeeds and changes something, on state made for it
  const REQUESTS: Record<string, () => Promise<Write>> = {
    'post /api/v1/me/household': () =>
      Promise.resolve({
        auth: bearer(`replay-new-${++key}`),
        path: '/api/v1/me/household',
        body: { members: [member] },
      }),
    'post /api/v1/me/household/members': async () => ({
      auth: bearer((await household()).sub),
      path: '/api/v1/me/household/members',
      body: { ...member, firstName: 'Luis' },
    }),
    'patch /api/v1/me/household/members/{id}': async () => {
      const h = await household();
      return {
        auth: bearer(h.sub),
        path: `/api/v1/me/household/members/${h.memberIds[1]}`,
        body: { firstName: 'Changed' },
      };
    },
    'delete /api/v1/me/household/members/{id}': async () => {
      const h = await household();
      return { auth: bearer(h.sub), path: `/api/v1/me/household/members/${h.memberIds[1]}` };
    },
    'post /api/v1/admin/households': () =>
      Promise.resolve({
        auth: staff,
        path: '/api/v1/admin/households',
        body: { members: [member] },
      }),
    'post /api/v1/registrations': async () => {
      const date = await slotDate();
      return {
        auth: bearer((await household()).sub),
        path: '/api/v1/registrations',
        body: { eventDateId: date.dateId, eventSlotId: date.slotIds[0] },
      };
    },
    'patch /api/v1/registrations/{id}': async () => {
      const [h, date] = [await household(), await slotDate()];
      return {
        auth: bearer(h.sub),
        path: `/api/v1/registrations/${await registered(h, date)}`,
        body: { eventSlotId: date.slotIds[1] },
      };
    },
    'delete /api/v1/registrations/{id}': async () => {
      const [h, date] = [await household(), await slotDate()];
      return { auth: bearer(h.sub), path: `/api/v1/registrations/${await registered(h, date)}` };
    },
    'post /api/v1/admin/registrations': async () => {
      const date = await slotDate();
      return {
        auth: staff,
        path: '/api/v1/admin/registrations',
        body: {
          eventDateId: date.dateId,
          eventSlotId: date.slotIds[0],
          householdId: (await household()).id,
        },
      };
    },
    'post /api/v1/admin/registrations/bulk': async () => {
      const date = await slotDate();
      return {
        auth: staff,
        path: '/api/v1/admin/registrations/bulk',
        body: {
          eventDateId: date.dateId,
          eventSlotId: date.slotIds[0],
          householdIds: [(await household()).id, (await household()).id],
        },
      };
    },
    'delete /api/v1/admin/registrations/{id}': async () => {
      const id = await registered(await household(), await slotDate());
      return { auth: staff, path: `/api/v1/admin/registrations/${id}` };
    },
    'post /api/v1/admin/registrations/{id}/check-in': async () => {
      const id = await registered(
        await household(),
        await slotDate({ dateKey: dateKeyFromToday(0) }),
      );
      return { auth: staff, path: `/api/v1/admin/registrations/${id}/check-in`, body: {} };
    },
    'put /api/v1/admin/event-dates/{id}/settings': async () => ({
      auth: staff,
      path: `/api/v1/admin/event-dates/${(await slotDate()).dateId}/settings`,
      body: { waitlistLimit: 5 },
    }),
    'post /api/v1/admin/event-dates/{id}/waitlist/promote': async () => {
      // one confirmed, one waitlisted, then room appears behind the service's back
      const date = await slotDate({ slotCapacity: 1 });
      await registered(await household(), date);
      await registered(await household(), date);
      await ctx.dbs.publicSql.query(
        'UPDATE event_slots SET capacity = capacity + 1 WHERE event_slot_id = ?',
        [date.slotIds[0]],
      );
      return { auth: staff, path: `/api/v1/admin/event-dates/${date.dateId}/waitlist/promote` };
    },
    'post /api/v1/admin/event-dates/{id}/waitlist/close': async () => {
      // one confirmed, one waitlisted: the close cancels the waitlisted one
      const date = await slotDate({ slotCapacity: 1 });
      await registered(await household(), date);
      await registered(await household(), date);
      return { auth: staff, path: `/api/v1/admin/event-dates/${date.dateId}/waitlist/close` };
    },
  };

  it('reads the write routes from the OpenAPI document, each documents the header, and has a request here', () => {
    expect(writes.length).toBeGreaterThanOrEqual(14);
    expect(writes.filter((w) => !w.documented)).toEqual([]);
    expect(writes.map((w) => `${w.method} ${w.path}`).sort()).toEqual(Object.keys(REQUESTS).sort());
  });

  it('answers the same key and body with the first answer replayed, and one effect only', async () => {
    const failures: string[] = [];
    for (const { method, path } of writes) {
      const write = await REQUESTS[`${method} ${path}`]();
      const idempotencyKey = `replay-${method}-${path}-${++key}`;
      const send = () => {
        const agent = request(ctx.http);
        const req = agent[method](write.path)
          .set('Authorization', write.auth)
          .set('Idempotency-Key', idempotencyKey);
        return write.body === undefined ? req : req.send(write.body);
      };
      const before = await snapshot(ctx.dbs);
      const first = await send();
      const afterFirst = await snapshot(ctx.dbs);
      const second = await send();
      const afterSecond = await snapshot(ctx.dbs);
      const label = `${method.toUpperCase()} ${path}`;
      if (first.status >= 300) {
        failures.push(`${label}: the first request failed: ${first.status} ${first.text}`);
        continue;
      }
      if (JSON.stringify(afterFirst) === JSON.stringify(before))
        failures.push(`${label}: the first request changed nothing`);
      if (
        second.status !== first.status ||
        JSON.stringify(second.body) !== JSON.stringify(first.body)
      )
        failures.push(`${label}: replay answered ${second.status} ${second.text}`);
      if (second.headers['idempotent-replayed'] !== 'true')
        failures.push(`${label}: no Idempotent-Replayed header`);
      const changed = Object.keys(afterSecond).filter((t) => afterSecond[t] !== afterFirst[t]);
      if (changed.length > 0) failures.push(`${label}: the replay changed ${changed.join(', ')}`);
    }
    expect(failures).toEqual([]);
  });
});
