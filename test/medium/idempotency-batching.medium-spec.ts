import { createHash } from 'node:crypto';
import { TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../src/config/app-config';
import { PRIVATE_DB } from '../../src/database/database.constants';
import { IdempotencyBatcher } from '../../src/idempotency/idempotency.batcher';
import { IdempotencyRepository } from '../../src/idempotency/idempotency.repository';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createMediumModule } from '../support/medium';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const scopeOf = (label: string) => createHash('sha256').update(label).digest('hex');

// The key writes of concurrent requests grouped into shared statements, on real MariaDB: what
// each request learns and what its row holds must be what its own statement would have given.
// Statements are counted as the private DataSource receives them (a spy that calls through).
describe('IdempotencyBatcher (medium: real MariaDB)', () => {
  let dbs: TestDatabases;
  let moduleRef: TestingModule;
  let config: AppConfig;
  let sut: IdempotencyBatcher;
  let sent: jest.SpyInstance;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    // a key's lease is min(10 s, the saga's): 2 s, renewed every 667 ms
    ({ moduleRef, config } = await createMediumModule(dbs, { SAGA_GRACE_SECONDS: '2' }));
    sut = moduleRef.get(IdempotencyBatcher);
    sent = jest.spyOn(moduleRef.get<DataSource>(getDataSourceToken(PRIVATE_DB)), 'query');
  });
  beforeEach(() => sent.mockClear());
  afterAll(async () => {
    sent.mockRestore();
    await moduleRef.close();
    await dbs.drop();
  });

  /** The statements sent so far that start with `prefix`, with their parameters. */
  function statements(prefix: string): { sql: string; params: unknown[] }[] {
    return (sent.mock.calls as [string, unknown[]][])
      .filter(([sql]) => sql.trimStart().startsWith(prefix))
      .map(([sql, params]) => ({ sql, params }));
  }

  async function row(scope: string) {
    const [[found]] = await dbs.privateSql.query<any[]>(
      `SELECT state, status_code, response_body, request_hash,
              TIMESTAMPDIFF(MICROSECOND, NOW(6), locked_until) / 1e6 AS lock_left
         FROM idempotency_keys WHERE scope_hash = ?`,
      [scope],
    );
    return found as {
      state: string;
      status_code: number | null;
      response_body: string | null;
      request_hash: string;
      lock_left: string;
    };
  }

  it('claims of distinct keys that arrive while a claim is in flight: all claimed, in one statement', async () => {
    const lead = sut.claim(scopeOf('lead'), 'h-lead');
    const scopes = Array.from({ length: 40 }, (_, i) => scopeOf(`distinct-${i}`));
    const claims = scopes.map((scope, i) => sut.claim(scope, `h-${i}`));

    await expect(lead).resolves.toBe(true);
    await expect(Promise.all(claims)).resolves.toEqual(scopes.map(() => true));
    const rowsPerInsert = statements('INSERT').map((s) => s.params.length / 4);
    expect(rowsPerInsert).toEqual([1, 40]);
    const stored = await Promise.all(scopes.map(row));
    expect(stored.map((r) => r.request_hash)).toEqual(scopes.map((_, i) => `h-${i}`));
    expect(stored.every((r) => r.state === 'in_flight' && Number(r.lock_left) > 0)).toBe(true);
  });

  it('concurrent claims of the same key, in this instance and another: exactly one wins', async () => {
    const scope = scopeOf('same-key');
    const otherInstance = new IdempotencyBatcher(moduleRef.get(IdempotencyRepository), config);
    // a claim of another key in flight in each instance: the same key's claims are then the
    // next statement of each, 15 of them in one
    const leads = [sut, otherInstance].map((i) => i.claim(scopeOf(`lead-${i === sut}`), 'h'));
    const attempts = Array.from({ length: 30 }, (_, i) =>
      (i % 2 === 0 ? sut : otherInstance).claim(scope, `h-${i}`),
    );

    await Promise.all(leads);
    const won = await Promise.all(attempts);
    expect(won.filter(Boolean)).toHaveLength(1);
    // the row is the winner's
    expect((await row(scope)).request_hash).toBe(`h-${won.indexOf(true)}`);
    // and a key that exists is not claimed again
    await expect(sut.claim(scope, 'h-late')).resolves.toBe(false);
  });

  it('concurrent answers: each stored on its own key, committed before its request goes on', async () => {
    const scopes = Array.from({ length: 31 }, (_, i) => scopeOf(`answer-${i}`));
    await Promise.all(scopes.map((scope) => sut.claim(scope, 'h')));
    sent.mockClear();

    const seen = await Promise.all(
      scopes.map(async (scope, i) => {
        await sut.complete(scope, 200 + i, JSON.stringify({ answer: i }));
        // read at once on another connection: the statement that stored it has committed
        return row(scope);
      }),
    );
    expect(seen.map((r) => [r.state, r.status_code, r.response_body])).toEqual(
      scopes.map((_, i) => ['done', 200 + i, JSON.stringify({ answer: i })]),
    );
    expect(statements('UPDATE').length).toBe(2);
  });

  it('an answer statement that fails: every request waiting on it gets the error, none is stored', async () => {
    const [lead, good, bad] = ['lead', 'good', 'bad'].map((label) => scopeOf(`failing-${label}`));
    await Promise.all([lead, good, bad].map((scope) => sut.claim(scope, 'h')));

    const first = sut.complete(lead, 201, '{}');
    // NaN is no SQL value: the statement storing these two fails as a whole
    const batch = [sut.complete(good, 201, '{}'), sut.complete(bad, NaN, '{}')];
    await expect(first).resolves.toBeUndefined();
    const errors = await Promise.all(
      batch.map((p) =>
        p.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    expect(errors[0]).toBe(errors[1]);
    expect((await row(good)).state).toBe('in_flight');
    expect((await row(lead)).state).toBe('done');
  });

  it('keys held by running requests are renewed in one statement until each request ends', async () => {
    const [a, b] = [scopeOf('renew-a'), scopeOf('renew-b')];
    await Promise.all([sut.claim(a, 'h'), sut.claim(b, 'h')]);
    const letGoA = sut.hold(a);
    const letGoB = sut.hold(b);
    sent.mockClear();

    // claimed 3 s ago with a lease of 2 s: still held, by renewals that each cover both keys
    await sleep(3000);
    expect(Number((await row(a)).lock_left)).toBeGreaterThan(0);
    expect(Number((await row(b)).lock_left)).toBeGreaterThan(0);
    const renewals = statements('UPDATE').map((s) => s.params[1]);
    expect(renewals.length).toBeGreaterThanOrEqual(3);
    expect(renewals.every((scopes) => JSON.stringify(scopes) === JSON.stringify([a, b]))).toBe(
      true,
    );

    // a's request ended: a runs out, b is still renewed
    letGoA();
    await sleep(2800);
    expect(Number((await row(a)).lock_left)).toBeLessThan(0);
    expect(Number((await row(b)).lock_left)).toBeGreaterThan(0);

    // nothing held: nothing renewed any more
    letGoB();
    sent.mockClear();
    await sleep(1500);
    expect(statements('UPDATE')).toEqual([]);
  });
});
