import { readFileSync } from 'node:fs';
import { testEnv } from '../support/app';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createSlotDate, seedDimTimes } from '../support/schedule-fixture';
import { ServerProcess, startServer } from '../support/server';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// WEB_CONCURRENCY=2: the built server as a supervisor with two workers on one port.
describe('cluster workers (WEB_CONCURRENCY)', () => {
  let dbs: TestDatabases;
  let server: ServerProcess;
  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    server = await startServer(testEnv(dbs, { WEB_CONCURRENCY: '2', REDIS_URL }));
  });
  afterAll(async () => {
    await server.kill('SIGKILL');
    await dbs.drop();
  });

  it('runs two workers, replaces one that dies, keeps answering, and stops cleanly', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const pid = server.child.pid as number;
    const first = await workersOf(pid, 2);
    expect(first).toHaveLength(2);
    // ready means one worker listens; the kill below must leave a listening one behind
    await listening(server, first);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${server.url}/api/v1/event-dates/${s.dateId}`, {
        headers: { connection: 'close' },
      });
      expect(res.status).toBe(200);
    }

    process.kill(first[0], 'SIGKILL');
    const after = await workersOf(pid, 2, first[0]);
    expect(after).toHaveLength(2);
    expect(after).not.toContain(first[0]);
    // a kept-alive connection to the killed worker fails; a new one reaches a live worker
    const res = await fetch(`${server.url}/health/ready`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);

    expect(await server.kill('SIGTERM')).toBe(0);
  });
});

/** Waits until the supervisor has logged each of these workers as listening. */
async function listening(server: ServerProcess, pids: number[]): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (pids.every((pid) => server.output().includes(`worker ${pid} listening`))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`workers ${pids.join(', ')} not all listening:\n${server.output()}`);
}

/** The supervisor's worker pids once there are `count` of them (none of them `gone`). */
async function workersOf(pid: number, count: number, gone?: number): Promise<number[]> {
  let pids: number[] = [];
  for (let i = 0; i < 300; i++) {
    pids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number);
    if (pids.length === count && (gone === undefined || !pids.includes(gone))) return pids;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pids;
}
