import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { createSlotDate } from '../support/schedule-fixture';
import { expectContractError, snapshot } from './hostile.support';

const member = {
  firstName: 'Ana',
  lastName: 'Lopez',
  dateOfBirth: '1984-03-09',
  isHeadOfHousehold: true,
};
const HOUSEHOLD = '/api/v1/me/household';

describe('hostile input', () => {
  let ctx: TestContext;
  let dateId: number;
  let before: Record<string, string>;
  const auth = bearer('hostile-input-user');

  beforeAll(async () => {
    ctx = await createTestApp();
    ({ dateId } = await createSlotDate(ctx.dbs.publicSql));
    // a household with one member, so member routes have something to aim at
    await request(ctx.http)
      .post(HOUSEHOLD)
      .set('Authorization', auth)
      .send({ members: [member] })
      .expect(201);
  });
  afterAll(async () => ctx.close());

  beforeEach(async () => {
    before = await snapshot(ctx.dbs);
  });
  afterEach(async () => {
    expect(await snapshot(ctx.dbs)).toEqual(before);
  });

  // the bytes exactly as given: superagent would JSON-encode a Buffer
  const postRaw = (body: string | Buffer, type = 'application/json', encoding?: string) => {
    const req = request(ctx.http)
      .post(HOUSEHOLD)
      .set('Authorization', bearer('hostile-fresh-user'))
      .set('Content-Type', type);
    if (encoding !== undefined) req.set('Content-Encoding', encoding);
    return req.serialize((raw: string) => raw).send(body as string);
  };

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const big = JSON.stringify({ members: [{ ...member, firstName: 'x'.repeat(20_000) }] });
    expectContractError(await postRaw(big), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('answers a gzip bomb (small on the wire, huge inflated) with 413', async () => {
    const bomb = gzipSync(
      Buffer.from(JSON.stringify({ members: [{ ...member, firstName: ' '.repeat(5_000_000) }] })),
    );
    expect(bomb.length).toBeLessThan(16_000);
    expectContractError(await postRaw(bomb, 'application/json', 'gzip'), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('answers a corrupt or unknown content encoding with a 4xx', async () => {
    expectContractError(
      await postRaw(Buffer.from('not gzip at all'), 'application/json', 'gzip'),
      400,
      'VALIDATION_FAILED',
    );
    expectContractError(
      await postRaw('{"members":[]}', 'application/json', 'br-unknown'),
      400,
      'VALIDATION_FAILED',
    );
    expectContractError(
      await postRaw('{"members":[]}', 'application/json; charset=latin-9'),
      400,
      'VALIDATION_FAILED',
    );
  });

  it.each([
    ['an array', JSON.stringify([{ members: [member] }])],
    ['a string', JSON.stringify('members')],
    ['a number', '42'],
    ['null', 'null'],
    ['true', 'true'],
    ['malformed JSON', '{"members": [}'],
    ['an empty array', '[]'],
  ])('refuses a JSON body that is %s with 400 VALIDATION_FAILED', async (_name, body) => {
    expectContractError(await postRaw(body), 400, 'VALIDATION_FAILED');
  });

  it('refuses deeply nested bodies with 400', async () => {
    const depth = 5000;
    const body = `{"members":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expectContractError(await postRaw(body), 400, 'VALIDATION_FAILED');
    const objects = `{"members":[${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}]}`;
    expectContractError(await postRaw(objects), 400, 'VALIDATION_FAILED');
  });

  it('refuses huge arrays with 400', async () => {
    expectContractError(
      await postRaw(JSON.stringify({ members: Array(3000).fill(0) })),
      400,
      'VALIDATION_FAILED',
    );
    const many = Array.from({ length: 21 }, (_, i) => ({
      ...member,
      firstName: `M${i}`,
      isHeadOfHousehold: false,
    }));
    expectContractError(await postRaw(JSON.stringify({ members: many })), 400, 'VALIDATION_FAILED');
  });

  it('refuses nested arrays and items of the wrong kind in every list of objects or ids with 400', async () => {
    const staff = bearer('hostile-staff', ['staff']);
    const fresh = bearer('hostile-fresh-user');
    const objectItems: unknown[] = [[], [member], 1, 'x', null, true];
    const idItems: unknown[] = [[], ['7'], [7], {}, { id: '7' }, null, true, 1.5, '7a'];
    const cases: [
      method: 'post' | 'patch',
      path: string,
      auth: string,
      body: Record<string, unknown>,
      list: string,
      items: unknown[],
    ][] = [
      ['post', HOUSEHOLD, fresh, {}, 'members', objectItems],
      ['post', '/api/v1/admin/households', staff, {}, 'members', objectItems],
      ['post', '/api/v1/registrations', auth, { eventDateId: dateId }, 'memberIds', idItems],
      ['patch', '/api/v1/registrations/1', auth, {}, 'memberIds', idItems],
      [
        'post',
        '/api/v1/admin/registrations',
        staff,
        { eventDateId: dateId, householdId: '1' },
        'memberIds',
        idItems,
      ],
      ['post', '/api/v1/admin/registrations/1/check-in', staff, {}, 'memberIds', idItems],
      [
        'post',
        '/api/v1/admin/registrations/bulk',
        staff,
        { eventDateId: dateId },
        'householdIds',
        idItems,
      ],
    ];
    for (const [method, path, authorization, body, list, items] of cases) {
      for (const item of items) {
        // alone, and behind a valid item (a check of the first item only would pass these)
        const valid = list === 'members' ? { ...member, isHeadOfHousehold: false } : '1';
        for (const value of [[item], [valid, item]]) {
          const agent = request(ctx.http);
          const res = await agent[method](path)
            .set('Authorization', authorization)
            .send({ ...body, [list]: value });
          try {
            expectContractError(res, 400, 'VALIDATION_FAILED');
          } catch (error) {
            throw new Error(
              `${method} ${path} ${JSON.stringify({ [list]: value })}: ${String(error)}`,
              { cause: error },
            );
          }
        }
      }
    }
  });

  it('refuses integers beyond 2^53 with 400', async () => {
    const body = `{"members":[{"firstName":"A","lastName":"B","dateOfBirth":"1984-03-09","isHeadOfHousehold":true,"x":9007199254740993}]}`;
    expectContractError(await postRaw(body), 400, 'VALIDATION_FAILED');
    expectContractError(await postRaw('{"members":[1e400]}'), 400, 'VALIDATION_FAILED');
  });

  it.each([
    ['NUL', 'A\u0000B'],
    ['a lone high surrogate', 'A\uD800B'],
    ['a lone low surrogate', 'A\uDC00'],
  ])('refuses a string holding %s with 400', async (_name, firstName) => {
    expectContractError(
      await postRaw(JSON.stringify({ members: [{ ...member, firstName }] })),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('refuses a body that is not valid UTF-8 with 400', async () => {
    const head = Buffer.from('{"members":[{"firstName":"');
    const tail = Buffer.from(`","lastName":"B","dateOfBirth":"1984-03-09"}]}`);
    for (const bad of [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
      expectContractError(
        await postRaw(Buffer.concat([head, Buffer.from(bad), tail])),
        400,
        'VALIDATION_FAILED',
      );
    }
  });

  it('refuses prototype keys with 400', async () => {
    expectContractError(
      await postRaw(`{"members":[${JSON.stringify(member)}],"__proto__":{"admin":true}}`),
      400,
    );
    expectContractError(await postRaw(`{"constructor":{"prototype":{"x":1}},"members":[]}`), 400);
  });

  it('refuses a form-encoded or text body on a JSON route with 400', async () => {
    expectContractError(
      await postRaw('members=1', 'application/x-www-form-urlencoded'),
      400,
      'VALIDATION_FAILED',
    );
    expectContractError(await postRaw('members', 'text/plain'), 400, 'VALIDATION_FAILED');
    expectContractError(await postRaw(''), 400, 'VALIDATION_FAILED');
  });

  it.each([
    'abc',
    '-1',
    '0',
    '1e3',
    '0x1f',
    '1.5',
    '99999999999999999999999',
    '%00',
    '%ZZ',
    '%ED%A0%80',
    '%C0%AF',
    ' 1',
    '1%20',
  ])('answers the non-id path id "%s" with a 4xx, never a 500', async (id) => {
    for (const [method, url] of [
      ['patch', `${HOUSEHOLD}/members/${id}`],
      ['delete', `${HOUSEHOLD}/members/${id}`],
      ['get', `/api/v1/event-dates/${id}`],
      ['get', `/api/v1/admin/households/${id}`],
    ] as const) {
      const agent = request(ctx.http);
      const res = await agent[method](url)
        .set('Authorization', bearer('hostile-staff', ['staff']))
        .send({ firstName: 'Z' });
      expectContractError(res);
    }
  });

  it.each([
    '?zip=%00',
    '?zip=%C0%AF',
    '?zip=%ZZ',
    '?from=%ED%A0%80',
    '?page=99999999999999999999',
    '?page=1e400',
    '?page=1&page=2',
    '?page[a]=1',
    '?pageSize=-1',
    '?from=2026-02-30',
    '?unknown=1',
  ])('answers the query string %s with 400 VALIDATION_FAILED', async (query) => {
    expectContractError(
      await request(ctx.http).get(`/api/v1/events${query}`),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('still serves well-formed requests (the hardening has no false positives)', async () => {
    const ok = await request(ctx.http).get(`/api/v1/event-dates/${dateId}`).expect(200);
    expect(ok.body.id).toBe(dateId);
    await request(ctx.http).get('/api/v1/events?zip=43215&page=1').expect(200);
    const mine = await request(ctx.http).get(HOUSEHOLD).set('Authorization', auth).expect(200);
    expect(mine.body.members[0]).toMatchObject({ firstName: 'Ana' });
  });

  it('keeps names with accents and emoji intact (valid UTF-8 is not refused)', async () => {
    const res = await request(ctx.http)
      .post(HOUSEHOLD)
      .set('Authorization', bearer('hostile-utf8-user'))
      .send({ members: [{ ...member, firstName: 'José 🍞', lastName: 'Nguyễn' }] })
      .expect(201);
    expect(res.body.members[0]).toMatchObject({ firstName: 'José 🍞', lastName: 'Nguyễn' });
    before = await snapshot(ctx.dbs); // this one was meant to change the database
  });
});
