import request from 'supertest';
import { createTestApp, TestContext } from '../support/app';

describe('health', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  it('is live and ready when both databases answer', async () => {
    await request(ctx.http).get('/health/live').expect(200, { status: 'ok' });
    const ready = await request(ctx.http).get('/health/ready').expect(200);
    expect(ready.body.info).toMatchObject({
      publicDb: { status: 'up' },
      privateDb: { status: 'up' },
    });
  });

  it('answers an unknown route with the contract error shape', async () => {
    const res = await request(ctx.http).get('/api/v1/nope').expect(404);
    expect(res.body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
  });
});
