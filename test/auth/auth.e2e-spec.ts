import { sign } from 'jsonwebtoken';
import request from 'supertest';
import { createTestApp, TEST_SECRET, TestContext, token } from '../support/app';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

// A participant route and a staff route, each behind the guards every protected route uses.
const PARTICIPANT_ROUTE = '/api/v1/me/household';
const STAFF_ROUTE = '/api/v1/admin/households/1';

describe('authentication and roles', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  const expectUnauthenticated = async (
    authorization: string | undefined,
    route = PARTICIPANT_ROUTE,
  ) => {
    const req = request(ctx.http).get(route);
    if (authorization !== undefined) req.set('Authorization', authorization);
    const res = await req.expect(401);
    expect(res.body).toEqual({
      statusCode: 401,
      code: 'UNAUTHENTICATED',
      message: expect.any(String),
    });
  };

  it('lets a valid token through (the household simply does not exist yet)', async () => {
    const res = await request(ctx.http)
      .get(PARTICIPANT_ROUTE)
      .set('Authorization', `Bearer ${token('alice')}`)
      .expect(404);
    expect(res.body.code).toBe('HOUSEHOLD_NOT_FOUND');
  });

  it('refuses a request without a token', async () => {
    await expectUnauthenticated(undefined);
    await expectUnauthenticated(undefined, STAFF_ROUTE);
  });

  it.each([
    ['an empty bearer', 'Bearer '],
    ['another scheme', `Basic ${Buffer.from('alice:pw').toString('base64')}`],
    ['garbage', 'Bearer not.a.jwt'],
    ['the token without the scheme', token('alice')],
  ])('refuses %s', async (_label, header) => {
    await expectUnauthenticated(header);
  });

  it('refuses a token signed with another secret', async () => {
    await expectUnauthenticated(
      `Bearer ${token('alice', ['participant'], { secret: 'another-secret-of-16-chars' })}`,
    );
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = token('alice').split('.');
    const forged = b64({ sub: 'alice', roles: ['admin'], exp: inAnHour() });
    await expectUnauthenticated(`Bearer ${header}.${forged}.${signature}`, STAFF_ROUTE);
  });

  it('refuses alg none, with or without a signature', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', roles: ['admin'], exp: inAnHour() })}`;
    await expectUnauthenticated(`Bearer ${unsigned}.`, STAFF_ROUTE);
    await expectUnauthenticated(`Bearer ${unsigned}`, STAFF_ROUTE);
  });

  it('refuses a token signed with another HMAC algorithm than the pinned HS256', async () => {
    const hs512 = sign({ sub: 'alice', roles: ['participant'] }, TEST_SECRET, {
      algorithm: 'HS512',
      expiresIn: 600,
    });
    await expectUnauthenticated(`Bearer ${hs512}`);
  });

  it('refuses an expired token', async () => {
    const expired = sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }, TEST_SECRET, {
      algorithm: 'HS256',
    });
    await expectUnauthenticated(`Bearer ${expired}`);
  });

  it('refuses a token without exp', async () => {
    const forever = sign({ sub: 'alice', roles: ['staff'] }, TEST_SECRET, { algorithm: 'HS256' });
    await expectUnauthenticated(`Bearer ${forever}`);
    await expectUnauthenticated(`Bearer ${forever}`, STAFF_ROUTE);
  });

  it('refuses a token that is not valid yet (nbf in the future)', async () => {
    const early = sign({ sub: 'alice' }, TEST_SECRET, {
      algorithm: 'HS256',
      expiresIn: 3600,
      notBefore: 600,
    });
    await expectUnauthenticated(`Bearer ${early}`);
  });

  it.each([
    ['no sub', {}],
    ['an empty sub', { sub: '' }],
    ['a numeric sub', { sub: 42 }],
    ['a sub longer than 191 characters', { sub: 'x'.repeat(192) }],
  ])('refuses a token with %s', async (_label, claims) => {
    const bad = sign({ ...claims, roles: ['participant'] }, TEST_SECRET, {
      algorithm: 'HS256',
      expiresIn: 600,
    });
    await expectUnauthenticated(`Bearer ${bad}`);
  });

  describe('roles', () => {
    const staffGet = (roles: string[] | undefined) => {
      const claims = roles === undefined ? { sub: 'bob' } : { sub: 'bob', roles };
      const jwt = sign(claims, TEST_SECRET, { algorithm: 'HS256', expiresIn: 600 });
      return request(ctx.http).get(STAFF_ROUTE).set('Authorization', `Bearer ${jwt}`);
    };

    it.each([
      ['participant', ['participant']],
      ['no roles claim (participant by default)', undefined],
      ['only unknown roles', ['superuser', 'root']],
      ['a roles claim that is not a list', 'admin' as unknown as string[]],
    ])('answers 403 FORBIDDEN on a staff route for %s', async (_label, roles) => {
      const res = await staffGet(roles).expect(403);
      expect(res.body).toEqual({ statusCode: 403, code: 'FORBIDDEN', message: expect.any(String) });
    });

    it.each([['staff'], ['admin']])('lets role %s through to a staff route', async (role) => {
      const res = await staffGet([role]).expect(404);
      expect(res.body.code).toBe('HOUSEHOLD_NOT_FOUND');
    });

    it('lets staff use participant routes too', async () => {
      await request(ctx.http)
        .get(PARTICIPANT_ROUTE)
        .set('Authorization', `Bearer ${token('carol', ['staff'])}`)
        .expect(404);
    });
  });

  describe('with JWT_ISSUER and JWT_AUDIENCE configured', () => {
    let strict: TestContext;
    beforeAll(async () => {
      strict = await createTestApp(
        { JWT_ISSUER: 'https://id.example.org', JWT_AUDIENCE: 'freshtrak-registration' },
        ctx.dbs,
      );
    });
    afterAll(async () => strict.close());

    const get = (claims: object) =>
      request(strict.http)
        .get(PARTICIPANT_ROUTE)
        .set(
          'Authorization',
          `Bearer ${sign({ sub: 'dave', ...claims }, TEST_SECRET, { algorithm: 'HS256', expiresIn: 600 })}`,
        );

    it('accepts the right issuer and audience', async () => {
      const res = await get({
        iss: 'https://id.example.org',
        aud: 'freshtrak-registration',
      }).expect(404);
      expect(res.body.code).toBe('HOUSEHOLD_NOT_FOUND');
    });

    it.each([
      ['no issuer or audience', {}],
      ['a wrong issuer', { iss: 'https://evil.example.org', aud: 'freshtrak-registration' }],
      ['a wrong audience', { iss: 'https://id.example.org', aud: 'another-service' }],
      ['no audience', { iss: 'https://id.example.org' }],
      ['no issuer', { aud: 'freshtrak-registration' }],
    ])('refuses %s with 401', async (_label, claims) => {
      const res = await get(claims).expect(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    });
  });
});
