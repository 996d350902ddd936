import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';

const ALLOWED = 'https://app.example.org';

describe('response headers and error bodies', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp({ CORS_ORIGINS: `${ALLOWED}, https://staff.example.org` });
  });
  afterAll(async () => ctx.close());

  it.each([
    ['/health/live', 200],
    ['/api/v1/events', 200],
    ['/api/v1/nope', 404],
    ['/api/v1/events?page=0', 400],
    ['/api/v1/registrations', 401],
  ])('%s carries the security headers and no X-Powered-By', async (path, status) => {
    const res = await request(ctx.http).get(path).expect(status);
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
  });

  it('allows the configured origins and no other', async () => {
    const allowed = await request(ctx.http)
      .get('/api/v1/events')
      .set('Origin', ALLOWED)
      .expect(200);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
    const evil = await request(ctx.http)
      .get('/api/v1/events')
      .set('Origin', 'https://evil.example')
      .expect(200);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const lookalike = await request(ctx.http)
      .get('/api/v1/events')
      .set('Origin', `${ALLOWED}.evil.example`);
    expect(lookalike.headers['access-control-allow-origin']).toBeUndefined();
    const nullOrigin = await request(ctx.http).get('/api/v1/events').set('Origin', 'null');
    expect(nullOrigin.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers preflights only for the configured origins', async () => {
    const preflight = (origin: string) =>
      request(ctx.http)
        .options('/api/v1/registrations')
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key');
    const ok = await preflight('https://staff.example.org');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://staff.example.org');
    const evil = await preflight('https://evil.example');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('does not echo a request id that could inject into logs or headers', async () => {
    const res = await request(ctx.http)
      .get('/health/live')
      .set('X-Request-Id', '<script>alert(1)</script>');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers a failure inside the server with a bare 500: no stack, no SQL, just a request id', async () => {
    const auth = bearer(`five-hundred-${randomUUID()}`);
    const member = { firstName: 'Ana', lastName: 'Lopez', dateOfBirth: '1984-03-09' };
    await request(ctx.http)
      .post('/api/v1/me/household')
      .set('Authorization', auth)
      .send({ members: [member] })
      .expect(201);
    await ctx.dbs.privateSql.query('RENAME TABLE household_members TO household_members_gone');
    try {
      const res = await request(ctx.http).get('/api/v1/me/household').set('Authorization', auth);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        statusCode: 500,
        code: 'INTERNAL_ERROR',
        message: 'Internal error',
        requestId: res.headers['x-request-id'],
      });
      expect(res.text).not.toMatch(/household_members|SELECT|ER_|at \w|\.ts/);
    } finally {
      await ctx.dbs.privateSql.query('RENAME TABLE household_members_gone TO household_members');
    }
  });
});

describe('CORS when no origin is configured', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  it('allows no cross-origin caller at all', async () => {
    expect(ctx.config.corsOrigins).toEqual([]);
    const res = await request(ctx.http).get('/api/v1/events').set('Origin', ALLOWED).expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(ctx.http)
      .options('/api/v1/registrations')
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});
