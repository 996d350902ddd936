import request from 'supertest';
import { createTestApp, TestContext } from '../support/app';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { parseExposition } from '../support/prometheus-text';
import { TcpProxy } from '../support/tcp-proxy';

// readiness_check_up is what the FreshTrakNotReady alert watches: it must say what
// /health/ready says, check by check, while a database goes away and comes back.
describe('readiness_check_up', () => {
  let dbs: TestDatabases;
  let ctx: TestContext;
  const proxy = new TcpProxy();
  beforeAll(async () => {
    dbs = await createTestDatabases();
    const port = await proxy.start();
    ctx = await createTestApp(
      { PRIVATE_DB_URL: dbs.privateUrl.replace(':3306/', `:${port}/`), NOTIFY_POLL_MS: '0' },
      dbs,
    );
  });
  afterAll(async () => {
    await ctx.close();
    await proxy.cut();
    await dbs.drop();
  });

  const gauge = async () =>
    Object.fromEntries(
      parseExposition((await request(ctx.http).get('/metrics').expect(200)).text)
        .filter((s) => s.name === 'readiness_check_up')
        .map((s) => [s.labels.check, s.value]),
    );

  it('is 1 for each check while ready', async () => {
    await request(ctx.http).get('/health/ready').expect(200);
    expect(await gauge()).toEqual({ publicDb: 1, privateDb: 1 });
  });

  it('is 0 for the database that stopped answering, and /metrics still answers', async () => {
    await proxy.cut();
    await request(ctx.http).get('/health/ready').expect(503);
    expect(await gauge()).toEqual({ publicDb: 1, privateDb: 0 });
  });

  it('is 1 again once the database is back', async () => {
    await proxy.restore();
    // the pool reconnects on its own; wait (bounded) until the route says ready again
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      status = (await request(ctx.http).get('/health/ready')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(200);
    expect(await gauge()).toEqual({ publicDb: 1, privateDb: 1 });
  });
});
