import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';

const member = (overrides: Record<string, unknown> = {}) => ({
  firstName: 'Ana',
  lastName: 'Lopez',
  dateOfBirth: '1984-03-09',
  ...overrides,
});

type Row = import('mysql2/promise').RowDataPacket;

let counter = 0;
const newSub = () => `user-${Date.now()}-${++counter}`;

describe('households', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  const create = (sub: string, body: unknown) =>
    request(ctx.http)
      .post('/api/v1/me/household')
      .set('Authorization', bearer(sub))
      .send(body as object);

  async function household(
    sub: string,
    members = [
      member({ isHeadOfHousehold: true }),
      member({ firstName: 'Luis', dateOfBirth: '2015-06-21' }),
    ],
  ) {
    const res = await create(sub, { members }).expect(201);
    return res.body as { id: string; members: { id: string }[] };
  }

  describe('POST /api/v1/me/household', () => {
    it('creates the household, links the account and answers 201 with string ids', async () => {
      const sub = newSub();
      const res = await create(sub, {
        members: [
          member({ firstName: '  Ana  ', isHeadOfHousehold: true }),
          member({ firstName: 'Luis', dateOfBirth: '2015-06-21' }),
        ],
      }).expect(201);

      expect(res.body).toEqual({
        id: expect.stringMatching(/^\d+$/),
        members: [
          {
            id: expect.stringMatching(/^\d+$/),
            firstName: 'Ana',
            lastName: 'Lopez',
            dateOfBirth: '1984-03-09',
            isHeadOfHousehold: true,
            isActive: true,
          },
          {
            id: expect.stringMatching(/^\d+$/),
            firstName: 'Luis',
            lastName: 'Lopez',
            dateOfBirth: '2015-06-21',
            isHeadOfHousehold: false,
            isActive: true,
          },
        ],
      });
      const [rows] = await ctx.dbs.privateSql.query<Row[]>(
        'SELECT household_id FROM accounts WHERE sub = ?',
        [sub],
      );
      expect(String(rows[0].household_id)).toBe(res.body.id);
      const mine = await request(ctx.http)
        .get('/api/v1/me/household')
        .set('Authorization', bearer(sub))
        .expect(200);
      expect(mine.body).toEqual(res.body);
    });

    it('is 409 HOUSEHOLD_EXISTS the second time, and creates nothing', async () => {
      const sub = newSub();
      await household(sub);
      const [[before]] = await ctx.dbs.privateSql.query<Row[]>(
        'SELECT COUNT(*) AS n FROM households',
      );
      const res = await create(sub, { members: [member()] }).expect(409);
      expect(res.body).toMatchObject({ statusCode: 409, code: 'HOUSEHOLD_EXISTS' });
      const [[after]] = await ctx.dbs.privateSql.query<Row[]>(
        'SELECT COUNT(*) AS n FROM households',
      );
      expect(after.n).toBe(before.n);
    });

    it('creates exactly one household when the same account posts ten times at once', async () => {
      const sub = newSub();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => create(sub, { members: [member()] })),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(9);
      const [[row]] = await ctx.dbs.privateSql.query<Row[]>(
        'SELECT COUNT(*) AS n FROM households h JOIN accounts a ON a.household_id = h.id WHERE a.sub = ?',
        [sub],
      );
      expect(Number(row.n)).toBe(1);
    });

    const invalid: [string, unknown][] = [
      ['no members', { members: [] }],
      ['members missing', {}],
      ['21 members', { members: Array.from({ length: 21 }, () => member()) }],
      [
        'two heads',
        { members: [member({ isHeadOfHousehold: true }), member({ isHeadOfHousehold: true })] },
      ],
      ['an empty first name', { members: [member({ firstName: '' })] }],
      ['a blank first name', { members: [member({ firstName: '   ' })] }],
      ['a 101-character last name', { members: [member({ lastName: 'x'.repeat(101) })] }],
      ['a control character in a name', { members: [member({ firstName: 'An\u0000a' })] }],
      ['a newline in a name', { members: [member({ lastName: 'Lo\npez' })] }],
      ['a bidi override in a name', { members: [member({ lastName: 'Lo\u202Epez' })] }],
      ['a number as a name', { members: [member({ firstName: 42 })] }],
      ['an impossible date of birth', { members: [member({ dateOfBirth: '2001-02-29' })] }],
      ['a date of birth in the future', { members: [member({ dateOfBirth: '2999-01-01' })] }],
      ['a date of birth before 1900', { members: [member({ dateOfBirth: '1899-12-31' })] }],
      [
        'a date of birth with a time',
        { members: [member({ dateOfBirth: '1984-03-09T00:00:00Z' })] },
      ],
      ['a non-boolean head flag', { members: [member({ isHeadOfHousehold: 'yes' })] }],
      ['an unknown member field', { members: [member({ ssn: '123' })] }],
      ['an unknown top-level field', { members: [member()], householdId: '5' }],
      ['members not an array', { members: member() }],
    ];
    it.each(invalid)(
      'refuses %s with 400 VALIDATION_FAILED and creates nothing',
      async (_label, body) => {
        const sub = newSub();
        const res = await create(sub, body).expect(400);
        expect(res.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
        await request(ctx.http)
          .get('/api/v1/me/household')
          .set('Authorization', bearer(sub))
          .expect(404);
      },
    );

    it('accepts 20 members and a name of 100 characters', async () => {
      const members = Array.from({ length: 20 }, (_, i) =>
        member({ firstName: `M${i}`, lastName: 'y'.repeat(100) }),
      );
      const res = await create(newSub(), { members }).expect(201);
      expect(res.body.members).toHaveLength(20);
    });
  });

  describe('GET /api/v1/me/household', () => {
    it('is 404 HOUSEHOLD_NOT_FOUND before the household is created', async () => {
      const res = await request(ctx.http)
        .get('/api/v1/me/household')
        .set('Authorization', bearer(newSub()))
        .expect(404);
      expect(res.body.code).toBe('HOUSEHOLD_NOT_FOUND');
    });

    it('needs a token', async () => {
      const res = await request(ctx.http).get('/api/v1/me/household').expect(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('members', () => {
    it('adds a member (201) who then appears in the household', async () => {
      const sub = newSub();
      await household(sub);
      const res = await request(ctx.http)
        .post('/api/v1/me/household/members')
        .set('Authorization', bearer(sub))
        .send(member({ firstName: 'Rosa', dateOfBirth: '2020-01-31' }))
        .expect(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^\d+$/),
        firstName: 'Rosa',
        lastName: 'Lopez',
        dateOfBirth: '2020-01-31',
        isHeadOfHousehold: false,
        isActive: true,
      });
      const mine = await request(ctx.http)
        .get('/api/v1/me/household')
        .set('Authorization', bearer(sub))
        .expect(200);
      expect(mine.body.members.map((m: { id: string }) => m.id)).toContain(res.body.id);
    });

    it('refuses a member before the household exists (404 HOUSEHOLD_NOT_FOUND)', async () => {
      const res = await request(ctx.http)
        .post('/api/v1/me/household/members')
        .set('Authorization', bearer(newSub()))
        .send(member())
        .expect(404);
      expect(res.body.code).toBe('HOUSEHOLD_NOT_FOUND');
    });

    it('refuses a second head of household (409 INVALID_STATE), by POST and by PATCH', async () => {
      const sub = newSub();
      const h = await household(sub);
      const post = await request(ctx.http)
        .post('/api/v1/me/household/members')
        .set('Authorization', bearer(sub))
        .send(member({ isHeadOfHousehold: true }))
        .expect(409);
      expect(post.body.code).toBe('INVALID_STATE');
      const patch = await request(ctx.http)
        .patch(`/api/v1/me/household/members/${h.members[1].id}`)
        .set('Authorization', bearer(sub))
        .send({ isHeadOfHousehold: true })
        .expect(409);
      expect(patch.body.code).toBe('INVALID_STATE');
    });

    it('refuses a 21st active member (409 INVALID_STATE)', async () => {
      const sub = newSub();
      await household(
        sub,
        Array.from({ length: 20 }, () => member()),
      );
      const res = await request(ctx.http)
        .post('/api/v1/me/household/members')
        .set('Authorization', bearer(sub))
        .send(member())
        .expect(409);
      expect(res.body.code).toBe('INVALID_STATE');
    });

    it('changes a member with PATCH; other fields keep their value', async () => {
      const sub = newSub();
      const h = await household(sub);
      const res = await request(ctx.http)
        .patch(`/api/v1/me/household/members/${h.members[1].id}`)
        .set('Authorization', bearer(sub))
        .send({ lastName: ' Lopez Garcia ' })
        .expect(200);
      expect(res.body).toMatchObject({
        id: h.members[1].id,
        firstName: 'Luis',
        lastName: 'Lopez Garcia',
        dateOfBirth: '2015-06-21',
      });
    });

    it('moves the head role once the old head is demoted', async () => {
      const sub = newSub();
      const h = await household(sub);
      const auth = bearer(sub);
      await request(ctx.http)
        .patch(`/api/v1/me/household/members/${h.members[0].id}`)
        .set('Authorization', auth)
        .send({ isHeadOfHousehold: false })
        .expect(200);
      await request(ctx.http)
        .patch(`/api/v1/me/household/members/${h.members[1].id}`)
        .set('Authorization', auth)
        .send({ isHeadOfHousehold: true })
        .expect(200);
      const mine = await request(ctx.http)
        .get('/api/v1/me/household')
        .set('Authorization', auth)
        .expect(200);
      expect(
        mine.body.members.map((m: { isHeadOfHousehold: boolean }) => m.isHeadOfHousehold),
      ).toEqual([false, true]);
    });

    it.each([
      [{}],
      [{ firstName: '' }],
      [{ dateOfBirth: '2100-01-01' }],
      [{ isActive: false }],
      [{ householdId: '1' }],
    ])('refuses PATCH %j with 400 VALIDATION_FAILED', async (body) => {
      const sub = newSub();
      const h = await household(sub);
      const res = await request(ctx.http)
        .patch(`/api/v1/me/household/members/${h.members[1].id}`)
        .set('Authorization', bearer(sub))
        .send(body)
        .expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });

    it('removes a member by marking it inactive; removing again returns it unchanged', async () => {
      const sub = newSub();
      const h = await household(sub);
      const auth = bearer(sub);
      const res = await request(ctx.http)
        .delete(`/api/v1/me/household/members/${h.members[0].id}`)
        .set('Authorization', auth)
        .expect(200);
      expect(res.body).toMatchObject({
        id: h.members[0].id,
        isActive: false,
        isHeadOfHousehold: false,
      });
      const again = await request(ctx.http)
        .delete(`/api/v1/me/household/members/${h.members[0].id}`)
        .set('Authorization', auth)
        .expect(200);
      expect(again.body).toEqual(res.body);
      const mine = await request(ctx.http)
        .get('/api/v1/me/household')
        .set('Authorization', auth)
        .expect(200);
      expect(mine.body.members).toHaveLength(2);
      expect(mine.body.members[0]).toMatchObject({ id: h.members[0].id, isActive: false });
      const [[row]] = await ctx.dbs.privateSql.query<Row[]>(
        'SELECT is_active FROM household_members WHERE id = ?',
        [h.members[0].id],
      );
      expect(Number(row.is_active)).toBe(0);
    });

    it('refuses to change a removed member, and to remove the last active one (409 INVALID_STATE)', async () => {
      const sub = newSub();
      const h = await household(sub);
      const auth = bearer(sub);
      await request(ctx.http)
        .delete(`/api/v1/me/household/members/${h.members[0].id}`)
        .set('Authorization', auth)
        .expect(200);
      const patch = await request(ctx.http)
        .patch(`/api/v1/me/household/members/${h.members[0].id}`)
        .set('Authorization', auth)
        .send({ firstName: 'X' })
        .expect(409);
      expect(patch.body.code).toBe('INVALID_STATE');
      const last = await request(ctx.http)
        .delete(`/api/v1/me/household/members/${h.members[1].id}`)
        .set('Authorization', auth)
        .expect(409);
      expect(last.body.code).toBe('INVALID_STATE');
    });

    it("is 404 MEMBER_NOT_FOUND for another household's member, an unknown id and a non-id, changing nothing", async () => {
      const mine = newSub();
      await household(mine);
      const other = await household(newSub());
      for (const id of [other.members[0].id, '999999999', 'abc', '0']) {
        const del = await request(ctx.http)
          .delete(`/api/v1/me/household/members/${id}`)
          .set('Authorization', bearer(mine))
          .expect(404);
        expect(del.body.code).toBe('MEMBER_NOT_FOUND');
        const patch = await request(ctx.http)
          .patch(`/api/v1/me/household/members/${id}`)
          .set('Authorization', bearer(mine))
          .send({ firstName: 'Mallory' })
          .expect(404);
        expect(patch.body.code).toBe('MEMBER_NOT_FOUND');
      }
      const [[row]] = await ctx.dbs.privateSql.query<Row[]>(
        'SELECT first_name, is_active FROM household_members WHERE id = ?',
        [other.members[0].id],
      );
      expect(row).toMatchObject({ first_name: 'Ana', is_active: 1 });
    });
  });

  describe('staff', () => {
    const staff = () => bearer(newSub(), ['staff']);

    it('creates a walk-in household with no account, and reads it back', async () => {
      const res = await request(ctx.http)
        .post('/api/v1/admin/households')
        .set('Authorization', staff())
        .send({ members: [member({ isHeadOfHousehold: true })] })
        .expect(201);
      expect(res.body).toMatchObject({
        id: expect.stringMatching(/^\d+$/),
        members: [{ firstName: 'Ana', isHeadOfHousehold: true }],
      });
      const [links] = await ctx.dbs.privateSql.query<Row[]>(
        'SELECT 1 FROM accounts WHERE household_id = ?',
        [res.body.id],
      );
      expect(links).toHaveLength(0);
      const got = await request(ctx.http)
        .get(`/api/v1/admin/households/${res.body.id}`)
        .set('Authorization', bearer('admin-1', ['admin']))
        .expect(200);
      expect(got.body).toEqual(res.body);
    });

    it("reads a participant's household", async () => {
      const h = await household(newSub());
      const got = await request(ctx.http)
        .get(`/api/v1/admin/households/${h.id}`)
        .set('Authorization', staff())
        .expect(200);
      expect(got.body.id).toBe(h.id);
    });

    it.each(['999999999', 'abc', '0'])('is 404 HOUSEHOLD_NOT_FOUND for %s', async (id) => {
      const res = await request(ctx.http)
        .get(`/api/v1/admin/households/${id}`)
        .set('Authorization', staff())
        .expect(404);
      expect(res.body.code).toBe('HOUSEHOLD_NOT_FOUND');
    });

    it('validates the walk-in body like the participant one', async () => {
      const res = await request(ctx.http)
        .post('/api/v1/admin/households')
        .set('Authorization', staff())
        .send({ members: [member({ dateOfBirth: '1984-13-01' })] })
        .expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });

    it('refuses participants (403 FORBIDDEN)', async () => {
      const h = await household(newSub());
      const get = await request(ctx.http)
        .get(`/api/v1/admin/households/${h.id}`)
        .set('Authorization', bearer(newSub()))
        .expect(403);
      expect(get.body.code).toBe('FORBIDDEN');
      const post = await request(ctx.http)
        .post('/api/v1/admin/households')
        .set('Authorization', bearer(newSub()))
        .send({ members: [member()] })
        .expect(403);
      expect(post.body.code).toBe('FORBIDDEN');
    });
  });
});
