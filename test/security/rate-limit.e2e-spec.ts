import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { bearer, createTestApp, TestContext, token } from '../support/app';
import { expectContractError, snapshot } from './hostile.support';

const member = { firstName: 'Ana', lastName: 'Lopez', dateOfBirth: '1984-03-09' };
const MEMBERS = '/api/v1/me/household/members';

function expectRateLimited(res: request.Response): void {
  expectContractError(res, 429, 'RATE_LIMITED');
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe('rate limits (in process)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp({
      RATE_LIMIT_WRITES_PER_MINUTE: '5',
      RATE_LIMIT_READS_PER_MINUTE: '8',
    });
  });
  afterAll(async () => ctx.close());

  it('limits writes per account with 429 RATE_LIMITED and Retry-After, and changes nothing', async () => {
    const alice = bearer(`alice-${randomUUID()}`);
    await request(ctx.http)
      .post('/api/v1/me/household')
      .set('Authorization', alice)
      .send({ members: [member] })
      .expect(201);
    for (let i = 0; i < 4; i++) {
      await request(ctx.http)
        .post(MEMBERS)
        .set('Authorization', alice)
        .send({ ...member, firstName: `M${i}` })
        .expect(201);
    }
    const before = await snapshot(ctx.dbs);
    const limited = await request(ctx.http)
      .post(MEMBERS)
      .set('Authorization', alice)
      .send({ ...member, firstName: 'Late' });
    expectRateLimited(limited);
    expect(await snapshot(ctx.dbs)).toEqual(before);

    // another account is not affected by alice's writes
    const bob = bearer(`bob-${randomUUID()}`);
    await request(ctx.http)
      .post('/api/v1/me/household')
      .set('Authorization', bob)
      .send({ members: [member] })
      .expect(201);
    // and alice may still read
    await request(ctx.http).get('/api/v1/me/household').set('Authorization', alice).expect(200);
  });

  it('counts writes with forged tokens against the client address, whatever sub they claim', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const forged = token(`forged-${i}-${randomUUID()}`, ['participant'], {
        secret: 'not-the-secret-of-the-idp',
      });
      const res = await request(ctx.http)
        .post(MEMBERS)
        .set('Authorization', `Bearer ${forged}`)
        .send(member);
      statuses.push(res.status);
      if (res.status === 429) expectRateLimited(res);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });

  it('limits unauthenticated reads per address, but not signed-in reads, health, metrics or docs', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await request(ctx.http).get('/api/v1/events')).status);
    expect(statuses.slice(0, 8)).toEqual(Array(8).fill(200));
    expectRateLimited(await request(ctx.http).get('/api/v1/events'));

    await request(ctx.http)
      .get('/api/v1/events')
      .set('Authorization', bearer(`carol-${randomUUID()}`))
      .expect(200);
    await request(ctx.http).get('/health/live').expect(200);
    await request(ctx.http).get('/health/ready').expect(200);
    await request(ctx.http).get('/metrics').expect(200);
    await request(ctx.http).get('/docs-json').expect(200);
  });
});

describe('rate limits (defaults)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // empty values fall back to the defaults: 120 writes and 600 reads a minute
    ctx = await createTestApp({
      RATE_LIMIT_WRITES_PER_MINUTE: '',
      RATE_LIMIT_READS_PER_MINUTE: '',
    });
  });
  afterAll(async () => ctx.close());

  it('lets a household fire ten writes and ten reads at once', async () => {
    expect(ctx.config.rateLimit).toEqual({ writesPerMinute: 120, readsPerMinute: 600 });
    const household = bearer(`busy-${randomUUID()}`);
    await request(ctx.http)
      .post('/api/v1/me/household')
      .set('Authorization', household)
      .send({ members: [member] })
      .expect(201);
    const writes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(ctx.http)
          .post(MEMBERS)
          .set('Authorization', household)
          .send({ ...member, firstName: `K${i}` }),
      ),
    );
    expect(writes.map((r) => r.status)).not.toContain(429);
    const reads = await Promise.all(
      Array.from({ length: 10 }, () => request(ctx.http).get('/api/v1/events')),
    );
    expect(reads.map((r) => r.status)).toEqual(Array(10).fill(200));
  });
});

describe('rate limits shared through Redis', () => {
  let one: TestContext;
  let two: TestContext;
  const env = {
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    RATE_LIMIT_WRITES_PER_MINUTE: '5',
  };
  beforeAll(async () => {
    one = await createTestApp(env);
    two = await createTestApp(env, one.dbs);
  });
  afterAll(async () => {
    await two.close();
    await one.close();
  });

  it('counts an account across two instances', async () => {
    const sub = `shared-${randomUUID()}`;
    await request(one.http)
      .post('/api/v1/me/household')
      .set('Authorization', bearer(sub))
      .send({ members: [member] })
      .expect(201);
    const apps = [two, one, two, one];
    for (const [i, app] of apps.entries()) {
      await request(app.http)
        .post(MEMBERS)
        .set('Authorization', bearer(sub))
        .send({ ...member, firstName: `S${i}` })
        .expect(201);
    }
    // five writes so far, three of them on the first instance: each instance alone would allow more
    expectRateLimited(
      await request(two.http).post(MEMBERS).set('Authorization', bearer(sub)).send(member),
    );
    expectRateLimited(
      await request(one.http).post(MEMBERS).set('Authorization', bearer(sub)).send(member),
    );
  });
});

describe('rate limits while Redis is away', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // nothing listens on port 1: the limiter cannot count
    ctx = await createTestApp({
      REDIS_URL: 'redis://127.0.0.1:1',
      RATE_LIMIT_READS_PER_MINUTE: '2',
    });
  });
  afterAll(async () => ctx.close());

  it('lets requests through rather than failing them (the limiter fails open)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await request(ctx.http).get('/api/v1/events')).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
  });
});
