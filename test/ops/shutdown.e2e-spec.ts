import type { Socket } from 'socket.io-client';
import { testEnv } from '../support/app';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { connectRealtime } from '../support/realtime';
import { createSlotDate, seedDimTimes } from '../support/schedule-fixture';
import { ServerProcess, startServer } from '../support/server';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// SIGTERM on Fastify with real-time clients still connected (one WebSocket, one long-polling,
// both subscribed): the drain must close them itself, not wait for them to leave.
describe('SIGTERM with live socket.io clients', () => {
  let dbs: TestDatabases;
  let server: ServerProcess;
  const clients: Socket[] = [];
  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    server = await startServer(testEnv(dbs, { REDIS_URL }));
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server.kill('SIGKILL');
    await dbs.drop();
  });

  it('disconnects them and exits 0 well within the drain limit', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 5 });
    for (const transport of ['websocket', 'polling'] as const) {
      const socket = await connectRealtime(server.url, { transport });
      clients.push(socket);
      await socket.timeout(5000).emitWithAck('subscribe', { eventDateId: s.dateId });
    }
    const disconnected = clients.map(
      (socket) => new Promise<void>((resolve) => socket.once('disconnect', () => resolve())),
    );

    const started = Date.now();
    expect(await server.kill('SIGTERM')).toBe(0);
    // the drain is cut (exit 1) after 25 s; a clean one is far quicker
    expect(Date.now() - started).toBeLessThan(10_000);
    await Promise.all(disconnected);
  });
});
