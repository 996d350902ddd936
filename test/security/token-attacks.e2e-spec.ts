import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { sign, SignOptions } from 'jsonwebtoken';
import request from 'supertest';
import { createTestApp, TEST_SECRET, TestContext } from '../support/app';
import { expectContractError, snapshot } from './hostile.support';

const ISSUER = 'https://idp.test.example';
const AUDIENCE = 'freshtrak-registration';
const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const otherKey = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
}).privateKey;

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A token from the identity provider; an option given as undefined is left out of the token. */
function rs256(
  claims: Record<string, unknown>,
  options: SignOptions = {},
  key: string = privateKey,
): string {
  const merged: SignOptions = {
    algorithm: 'RS256',
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresIn: 600,
    ...options,
  };
  for (const name of Object.keys(merged) as (keyof SignOptions)[]) {
    if (merged[name] === undefined) delete merged[name];
  }
  return sign(claims, key, merged);
}

/** The claims a good token carries, for attacks that build the token by hand. */
const goodClaims = (sub: string) => ({
  sub,
  roles: ['participant'],
  iss: ISSUER,
  aud: AUDIENCE,
  iat: now(),
  exp: now() + 600,
});

function hs256WithPublicKey(sub: string): string {
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(goodClaims(sub))}`;
  return `${head}.${createHmac('sha256', publicKey).update(head).digest('base64url')}`;
}

function tampered(sub: string): string {
  const [header, , signature] = rs256({ sub, roles: ['participant'] }).split('.');
  return `${header}.${b64url({ ...goodClaims(sub), roles: ['admin'] })}.${signature}`;
}

describe('token attacks (RS256 with issuer and audience)', () => {
  let ctx: TestContext;
  const victim = `victim-${randomUUID()}`;
  const household = {
    members: [{ firstName: 'Ana', lastName: 'Lopez', dateOfBirth: '1984-03-09' }],
  };

  beforeAll(async () => {
    ctx = await createTestApp({
      JWT_SECRET: '',
      JWT_PUBLIC_KEY: publicKey,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
    });
  });
  afterAll(async () => ctx.close());

  it('is configured for RS256 and accepts a good token (so the refusals below mean something)', async () => {
    expect(ctx.config.jwt).toMatchObject({
      algorithm: 'RS256',
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const res = await request(ctx.http)
      .get('/api/v1/me/household')
      .set('Authorization', `Bearer ${rs256({ sub: victim })}`);
    expectContractError(res, 404, 'HOUSEHOLD_NOT_FOUND');
  });

  const attacks: [string, () => string][] = [
    [
      'alg none',
      () => `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(goodClaims(victim))}.`,
    ],
    [
      'alg None with a signature',
      () => `Bearer ${b64url({ alg: 'None' })}.${b64url(goodClaims(victim))}.c2ln`,
    ],
    ['HS256 signed with the RS256 public key', () => `Bearer ${hs256WithPublicKey(victim)}`],
    [
      'RS512 from the right key (algorithm not pinned)',
      () => `Bearer ${rs256({ sub: victim }, { algorithm: 'RS512' })}`,
    ],
    ['RS256 from another key', () => `Bearer ${rs256({ sub: victim }, {}, otherKey)}`],
    ['a tampered payload', () => `Bearer ${tampered(victim)}`],
    [
      'an expired token',
      () => `Bearer ${rs256({ sub: victim, exp: now() - 60 }, { expiresIn: undefined })}`,
    ],
    ['nbf in the future', () => `Bearer ${rs256({ sub: victim, nbf: now() + 3600 })}`],
    [
      'a wrong issuer',
      () => `Bearer ${rs256({ sub: victim }, { issuer: 'https://evil.example' })}`,
    ],
    ['no issuer', () => `Bearer ${rs256({ sub: victim }, { issuer: undefined })}`],
    ['a wrong audience', () => `Bearer ${rs256({ sub: victim }, { audience: 'another-service' })}`],
    ['no sub', () => `Bearer ${rs256({ roles: ['participant'] })}`],
    ['an empty sub', () => `Bearer ${rs256({ sub: '' })}`],
    ['a numeric sub', () => `Bearer ${rs256({ sub: 42 })}`],
    ['no exp', () => `Bearer ${rs256({ sub: victim }, { expiresIn: undefined })}`],
    ['a header only "Bearer"', () => 'Bearer'],
    ['a header "Bearer " and nothing', () => 'Bearer '],
    ['a Basic header', () => `Basic ${Buffer.from('admin:admin').toString('base64')}`],
    ['a token without the scheme', () => rs256({ sub: victim })],
    ['garbage segments', () => 'Bearer a.b.c'],
    ['four segments', () => `Bearer ${rs256({ sub: victim })}.x`],
    [
      'a header with non-JSON base64',
      () => `Bearer ${Buffer.from('{{{').toString('base64url')}.e30.x`,
    ],
  ];

  let genericMessage: string | undefined;

  it.each(attacks)(
    'refuses %s with 401 UNAUTHENTICATED and changes nothing',
    async (_name, header) => {
      const before = await snapshot(ctx.dbs);
      const read = await request(ctx.http)
        .get('/api/v1/me/household')
        .set('Authorization', header());
      const write = await request(ctx.http)
        .post('/api/v1/me/household')
        .set('Authorization', header())
        .send(household);
      for (const res of [read, write]) {
        expectContractError(res, 401, 'UNAUTHENTICATED');
        genericMessage ??= res.body.message;
        // one answer for every bad token: nothing tells an attacker which check failed
        expect(res.body).toEqual({
          statusCode: 401,
          code: 'UNAUTHENTICATED',
          message: genericMessage,
        });
      }
      expect(await snapshot(ctx.dbs)).toEqual(before);
    },
  );

  it('answers no token at all the same way', async () => {
    const res = await request(ctx.http).get('/api/v1/registrations');
    expectContractError(res, 401, 'UNAUTHENTICATED');
    expect(res.body.message).toBe(genericMessage);
  });

  it('refuses a participant on a staff route with 403 FORBIDDEN, and lets staff through', async () => {
    const participant = await request(ctx.http)
      .get('/api/v1/admin/households/1')
      .set('Authorization', `Bearer ${rs256({ sub: victim, roles: ['participant'] })}`);
    expectContractError(participant, 403, 'FORBIDDEN');
    const unknownRole = await request(ctx.http)
      .get('/api/v1/admin/households/1')
      .set('Authorization', `Bearer ${rs256({ sub: victim, roles: ['superuser', 'root'] })}`);
    expectContractError(unknownRole, 403, 'FORBIDDEN');
    const before = await snapshot(ctx.dbs);
    const write = await request(ctx.http)
      .post('/api/v1/admin/households')
      .set('Authorization', `Bearer ${rs256({ sub: victim })}`)
      .send(household);
    expectContractError(write, 403, 'FORBIDDEN');
    expect(await snapshot(ctx.dbs)).toEqual(before);

    const staff = await request(ctx.http)
      .get('/api/v1/admin/households/999999')
      .set('Authorization', `Bearer ${rs256({ sub: `staff-${randomUUID()}`, roles: ['staff'] })}`);
    expectContractError(staff, 404, 'HOUSEHOLD_NOT_FOUND');
  });
});

describe('token attacks (HS256)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  it.each([
    [
      'alg none',
      () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'x', exp: now() + 600 })}.`,
    ],
    [
      'another secret',
      () =>
        sign({ sub: 'x' }, 'another-secret-of-16-chars-or-more', {
          algorithm: 'HS256',
          expiresIn: 600,
        }),
    ],
    ['an RS256 token', () => rs256({ sub: 'x' })],
    [
      'HS512 with the right secret',
      () => sign({ sub: 'x' }, TEST_SECRET, { algorithm: 'HS512', expiresIn: 600 }),
    ],
  ])('refuses %s with 401 UNAUTHENTICATED', async (_name, make) => {
    const res = await request(ctx.http)
      .get('/api/v1/me/household')
      .set('Authorization', `Bearer ${make()}`);
    expectContractError(res, 401, 'UNAUTHENTICATED');
  });

  it('accepts a good HS256 token (control)', async () => {
    const good = sign({ sub: `hs-${randomUUID()}` }, TEST_SECRET, {
      algorithm: 'HS256',
      expiresIn: 600,
    });
    expectContractError(
      await request(ctx.http).get('/api/v1/me/household').set('Authorization', `Bearer ${good}`),
      404,
      'HOUSEHOLD_NOT_FOUND',
    );
  });
});
