import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createSlotDate, seedDimTimes, SlotDate } from '../support/schedule-fixture';
import { runCli } from '../support/server';

// The built CLI as cron runs it: exit 0 all well, 1 drift found (dry run), 2 anything else,
// and a failure is one line on stderr.

// from a scratch directory, so a developer's .env plays no part
const run = (args: string[], env: Record<string, string>) => runCli(args, env, tmpdir());

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const oneLine = (text: string) => {
  expect(text.trimEnd().split('\n')).toHaveLength(1);
  // no colour escape, no stack frame, no framework log line
  expect(text).not.toContain('\u001b[');
  expect(text).not.toMatch(/\n\s+at |Error:|\[Nest\]/);
};

describe('npm run cli', () => {
  let dbs: TestDatabases;
  let s: SlotDate;
  // no JWT_SECRET: backfill never handles a token
  let env: Record<string, string>;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    s = await createSlotDate(dbs.publicSql, { slots: 2 });
    env = { PUBLIC_DB_URL: dbs.publicUrl, PRIVATE_DB_URL: dbs.privateUrl };
  });
  afterAll(async () => dbs.drop());

  it('lists every command with a one-line description, and the options of backfill', async () => {
    const help = await run(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^\s+token \[options\]\s+print a development JWT/m);
    expect(help.stdout).toMatch(/^\s+backfill \[options\]\s+compare every reserved counter/m);
    const backfill = await run(['backfill', '--help'], {});
    expect(backfill.code).toBe(0);
    for (const option of ['--event-date <id>', '--from <date>', '--apply'])
      expect(backfill.stdout).toContain(option);
  });

  it.each([
    ['an event date that is not an id', ['backfill', '--event-date', 'abc'], '--event-date'],
    ['a date that is not a date', ['backfill', '--from', '2026-13-01'], '--from'],
    ['a misspelt option', ['backfill', '--aply'], "unknown option '--aply'"],
    ['an unknown command', ['backfil'], "unknown command 'backfil'"],
    ['no command', [], 'Usage: npm run cli --'],
  ])('exits 2 on %s, saying why', async (_label, args, says) => {
    const result = await run(args, env);
    expect(result.code).toBe(2);
    expect(result.stdout + result.stderr).toContain(says);
  });

  it('exits 2 for an event date that does not exist', async () => {
    const result = await run(['backfill', '--event-date', '999'], env);
    expect(result).toEqual({ code: 2, stdout: '', stderr: 'event date 999 not found\n' });
  });

  it('exits 2 naming the database it cannot reach, in one line', async () => {
    const port = await closedPort();
    const publicDown = await run(['backfill'], {
      ...env,
      PUBLIC_DB_URL: `mysql://root@127.0.0.1:${port}/freshtrak_public`,
    });
    expect(publicDown.code).toBe(2);
    expect(publicDown.stdout).toBe('');
    expect(publicDown.stderr).toContain(
      `cannot reach the public database freshtrak_public at 127.0.0.1:${port}`,
    );
    oneLine(publicDown.stderr);

    const privateDown = await run(['backfill'], {
      ...env,
      PRIVATE_DB_URL: `mysql://root@127.0.0.1:${port}/freshtrak_private`,
    });
    expect(privateDown.code).toBe(2);
    expect(privateDown.stderr).toContain('cannot reach the private database freshtrak_private');
    oneLine(privateDown.stderr);
  });

  it('exits 0 without drift, 1 on drift in a dry run, 0 once --apply corrected it', async () => {
    const date = ['--event-date', String(s.dateId)];
    const clean = await run(['backfill', ...date], env);
    expect([clean.code, clean.stderr]).toEqual([0, '']);
    expect(clean.stdout).toContain('1 date(s) checked, 0 counter(s) drifted');

    await dbs.publicSql.query(
      'UPDATE event_slots SET reserved = reserved + 2 WHERE event_slot_id = ?',
      [s.slotIds[1]],
    );
    const dry = await run(['backfill', ...date], env);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toContain(
      `slot ${s.slotIds[1]} (date ${s.dateId}): reserved 2, expected 0, difference +2`,
    );
    const fixed = await run(['backfill', '--apply', ...date], env);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain('1 counter(s) corrected');
    const after = await run(['backfill', '--from', '2000-01-01'], env);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('0 counter(s) drifted');
  });

  it('asks for JWT_SECRET only where it is used: token', async () => {
    const token = await run(['token', '--sub', 'a'], env);
    expect(token.code).toBe(2);
    expect(token.stderr).toContain('JWT_SECRET');
    oneLine(token.stderr);
  });
});
