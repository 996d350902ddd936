import fc from 'fast-check';
import request from 'supertest';
import { bearer, TestContext } from '../support/app';
import { participant } from '../support/calls';
import { createHousehold, TestHousehold } from '../support/households';
import { createDate, createEvent } from '../support/schedule-fixture';
import { membersBelong, readState } from '../registrations/registration-state';
import { sortedIds } from '../registrations/registration-scenario';
import { fcOptions, holdsProperty, startApp } from './property-support';

// Properties of households and of what a household sees of its registrations: 1, 12, 13, 17.
// Seeds and run counts: see property-support.ts (FC_RUNS, FC_SEED, FC_PATH, FC_SHRINK).

let ctx: TestContext;
let accounts = 0;
beforeAll(async () => {
  ctx = await startApp();
});
afterAll(async () => ctx?.close());

const nameArb = fc
  .array(fc.constantFrom(..."AbcdeÉñüßøŁ李 -'.".split('')), { minLength: 1, maxLength: 40 })
  .map((chars) => chars.join('').trim())
  .filter((name) => name.length > 0);
const birthArb = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date(), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const memberArb = fc.record(
  { firstName: nameArb, lastName: nameArb, dateOfBirth: birthArb, isHeadOfHousehold: fc.boolean() },
  { requiredKeys: ['firstName', 'lastName', 'dateOfBirth'] },
);
// at most one head of household: every later head is demoted to an explicit false
const membersArb = fc.array(memberArb, { minLength: 1, maxLength: 8 }).map((members) => {
  let head = false;
  return members.map((m) => {
    if (m.isHeadOfHousehold !== true) return m;
    if (head) return { ...m, isHeadOfHousehold: false };
    head = true;
    return m;
  });
});

/** Dates to register for, each with room for `capacity` households. */
async function dates(count: number, capacity: number): Promise<number[]> {
  const eventId = await createEvent(ctx.dbs.publicSql);
  const ids: number[] = [];
  for (let i = 0; i < count; i++)
    ids.push(await createDate(ctx.dbs.publicSql, eventId, { capacity }));
  return ids;
}

/** Every registration the household's list shows, page after page. */
async function wholeList(h: TestHousehold, pageSize: number, status?: string) {
  const pages: {
    items: { id: string; householdId: string; createdAt: string }[];
    total: number;
  }[] = [];
  for (let page = 1; page <= 100; page++) {
    const res = await participant(ctx.http, h)
      .list({ page, pageSize, ...(status ? { status } : {}) })
      .expect(200);
    pages.push(res.body);
    if (res.body.items.length < pageSize) break;
  }
  return { items: pages.flatMap((p) => p.items), totals: pages.map((p) => p.total) };
}

describe('Property 1: creating a household preserves every member’s attributes', () => {
  it('returns and stores each member as sent, in order, by the participant or by staff', async () => {
    await fc.assert(
      fc.asyncProperty(membersArb, fc.boolean(), async (members, walkIn) => {
        const sub = `prop1-${process.pid}-${++accounts}`;
        const created = walkIn
          ? await request(ctx.http)
              .post('/api/v1/admin/households')
              .set('Authorization', bearer(sub, ['staff']))
              .send({ members })
          : await request(ctx.http)
              .post('/api/v1/me/household')
              .set('Authorization', bearer(sub))
              .send({ members });
        expect(created.status).toBe(201);
        const read = walkIn
          ? await request(ctx.http)
              .get(`/api/v1/admin/households/${created.body.id}`)
              .set('Authorization', bearer(sub, ['staff']))
          : await request(ctx.http).get('/api/v1/me/household').set('Authorization', bearer(sub));
        const expected = members.map((m) => ({
          id: expect.any(String),
          firstName: m.firstName,
          lastName: m.lastName,
          dateOfBirth: m.dateOfBirth,
          isHeadOfHousehold: m.isHeadOfHousehold ?? false,
          isActive: true,
        }));
        expect(created.body.members).toEqual(expected);
        expect(read.body).toEqual(created.body);
      }),
      fcOptions(20),
    );
  });
});

describe('Property 12: a household’s list holds all its registrations and no one else’s', () => {
  it('lists exactly the registrations each household made, whatever the others did', async () => {
    const opArb = fc.record({
      h: fc.nat(3),
      date: fc.nat(2),
      cancel: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        async (householdCount, capacity, ops) => {
          const dateIds = await dates(3, capacity);
          const households: TestHousehold[] = [];
          for (let i = 0; i < householdCount; i++)
            households.push(await createHousehold(ctx.dbs.privateSql, undefined, 2));
          const made = new Map<string, string[]>(households.map((h) => [h.id, []]));
          for (const op of ops) {
            const h = households[op.h % householdCount];
            const api = participant(ctx.http, h);
            const mine = made.get(h.id)!;
            if (op.cancel && mine.length > 0) {
              await api.cancel(mine[op.date % mine.length]).expect(200);
              continue;
            }
            const res = await api.register({ eventDateId: dateIds[op.date] });
            if (res.status === 201) mine.push(res.body.id);
            else expect([res.status, res.body.code]).toEqual([409, expect.any(String)]);
          }
          for (const h of households) {
            const { items, totals } = await wholeList(h, 100);
            const problems: string[] = [];
            const ids = items.map((r) => r.id).sort();
            const expected = [...made.get(h.id)!].sort();
            if (JSON.stringify(ids) !== JSON.stringify(expected))
              problems.push(`household ${h.id} lists ${ids.join(',')}, made ${expected.join(',')}`);
            for (const r of items.filter((x) => x.householdId !== h.id))
              problems.push(`household ${h.id} lists ${r.id} of household ${r.householdId}`);
            if (totals.some((t) => t !== expected.length))
              problems.push(`household ${h.id}: total ${totals.join(',')} for ${expected.length}`);
            holdsProperty('Property 12', `household ${h.id}`, problems);
          }
          // and another household's registration cannot be read by id
          const [a, b] = households;
          for (const id of made.get(b.id)!) await participant(ctx.http, a).get(id).expect(404);
        },
      ),
      fcOptions(10),
    );
  });
});

describe('Property 13: listing is newest first and stable across pages', () => {
  it('pages through the list in creation order, newest first, each registration once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ date: fc.nat(3), cancel: fc.boolean() }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(undefined, 'confirmed', 'cancelled'),
        async (ops, pageSize, status) => {
          const dateIds = await dates(4, 100);
          const h = await createHousehold(ctx.dbs.privateSql, undefined, 1);
          const api = participant(ctx.http, h);
          // in creation order; a re-registration after a cancel is a new, newer registration
          const made: { id: string; status: string }[] = [];
          const active = new Map<number, { id: string; status: string }>();
          for (const op of ops) {
            const current = active.get(op.date);
            if (current && op.cancel) {
              await api.cancel(current.id).expect(200);
              current.status = 'cancelled';
              active.delete(op.date);
            } else if (!current) {
              const res = await api.register({ eventDateId: dateIds[op.date] }).expect(201);
              const r = { id: res.body.id as string, status: res.body.status as string };
              made.push(r);
              active.set(op.date, r);
            }
          }
          const expected = made
            .filter((r) => status === undefined || r.status === status)
            .map((r) => r.id)
            .reverse();
          const { items, totals } = await wholeList(h, pageSize, status);
          const problems: string[] = [];
          const ids = items.map((r) => r.id);
          if (JSON.stringify(ids) !== JSON.stringify(expected))
            problems.push(
              `pages of ${pageSize} gave ${ids.join(',')}, newest first is ${expected.join(',')}`,
            );
          const times = items.map((r) => r.createdAt);
          if (times.some((t, i) => i > 0 && t > times[i - 1]))
            problems.push(`createdAt not descending: ${times.join(', ')}`);
          if (totals.some((t) => t !== expected.length))
            problems.push(`totals ${totals.join(',')} for ${expected.length}`);
          holdsProperty('Property 13', `status ${status ?? 'any'}`, problems);
        },
      ),
      fcOptions(10),
    );
  });
});

describe('Property 17: every member of a registration belongs to its household', () => {
  it('refuses a party with another household’s or an unknown member, on POST and PATCH', async () => {
    const memberPick = fc.record({
      from: fc.constantFrom('own', 'other', 'unknown'),
      i: fc.nat(3),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(memberPick, { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (parties) => {
          const [dateId] = await dates(1, 100);
          const h = await createHousehold(ctx.dbs.privateSql, undefined, 3);
          const other = await createHousehold(ctx.dbs.privateSql, undefined, 3);
          const api = participant(ctx.http, h);
          let registrationId: string | undefined;
          for (const picks of parties) {
            const party = [
              ...new Set(
                picks.map((p) =>
                  p.from === 'own'
                    ? h.memberIds[p.i % 3]
                    : p.from === 'other'
                      ? other.memberIds[p.i % 3]
                      : String(9_000_000 + p.i),
                ),
              ),
            ];
            const foreign = party.some((m) => !h.memberIds.includes(m));
            const res = registrationId
              ? await api.change(registrationId, { memberIds: party })
              : await api.register({ eventDateId: dateId, memberIds: party });
            const problems: string[] = [];
            if (foreign && res.status !== 403 && res.status !== 404)
              problems.push(`party ${party.join(',')} with a foreign member: ${res.status}`);
            if (!foreign && res.status >= 300)
              problems.push(`own party ${party.join(',')}: ${res.status} ${res.body.code}`);
            if (res.status < 300) {
              registrationId = res.body.id;
              if (JSON.stringify(res.body.memberIds) !== JSON.stringify(sortedIds(party)))
                problems.push(`stored ${res.body.memberIds} for ${party.join(',')}`);
            }
            problems.push(...(await membersBelong(ctx.dbs.privateSql, dateId)));
            const stored = (await readState(ctx.dbs, dateId)).regs.flatMap((r) => r.memberIds);
            problems.push(
              ...stored.filter((m) => !h.memberIds.includes(m)).map((m) => `member ${m} stored`),
            );
            holdsProperty('Property 17', `party ${party.join(',')}`, problems);
          }
        },
      ),
      fcOptions(12),
    );
  });
});
