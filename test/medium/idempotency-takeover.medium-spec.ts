import { ExecutionContext } from '@nestjs/common';
import { TestingModule } from '@nestjs/testing';
import { createConnection, Connection } from 'mysql2/promise';
import { from, lastValueFrom, Observable } from 'rxjs';
import { DomainError } from '../../src/common/domain-error';
import {
  IdempotencyInterceptor,
  IdempotentRequest,
} from '../../src/idempotency/idempotency.interceptor';
import { IdempotencyService } from '../../src/idempotency/idempotency.service';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createMediumModule } from '../support/medium';

// The retry of a request whose process died mid-saga, through the real interceptor on real
// MariaDB, while recovery supersedes that saga at the same moment. Recovery's supersede locks
// the saga row, then moves the key to the successor; the retry must not lock the key and then
// wait for the saga (it did, in one UPDATE ... JOIN: a deadlock, and the retry answered 500).
// The interleaving is forced, not timed: the supersede's transaction is held open until the
// retry has either answered or is seen waiting for one of its locks.
describe('IdempotencyInterceptor retry against a concurrent supersede (medium: real MariaDB)', () => {
  let dbs: TestDatabases;
  let moduleRef: TestingModule;
  let interceptor: IdempotencyInterceptor;
  let watch: Connection;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    ({ moduleRef } = await createMediumModule(dbs, { SAGA_GRACE_SECONDS: '2' }));
    interceptor = new IdempotencyInterceptor(moduleRef.get(IdempotencyService));
    watch = await createConnection({ ...dbs.privateDb });
  });
  afterAll(async () => {
    await watch.end();
    await moduleRef.close();
    await dbs.drop();
  });

  /** One request through the interceptor; `handle` is the route. */
  function send(key: string, handle: (request: IdempotentRequest) => Promise<unknown>) {
    const request = {
      method: 'POST',
      headers: { 'idempotency-key': key },
      user: { sub: 'takeover-household', roles: [] },
      url: '/api/v1/registrations',
      body: { eventDateId: 1 },
      query: {},
      ip: '127.0.0.1',
    } as unknown as IdempotentRequest;
    const response = {
      statusCode: 201,
      status(code: number) {
        this.statusCode = code;
        return this;
      },
      header() {
        return this;
      },
    };
    const context = {
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }),
    } as unknown as ExecutionContext;
    const next = { handle: (): Observable<unknown> => from(handle(request)) };
    return lastValueFrom(interceptor.intercept(context, next));
  }

  /**
   * A first request that started a `register` saga (in `state`) and died: its key points at
   * the saga and neither the key's lease nor the saga's runs any more. The saga's id.
   */
  async function cutOff(key: string, state: 'taking' | 'failed'): Promise<string> {
    let sagaId = '';
    await expect(
      send(key, async (request) => {
        const [inserted] = await dbs.privateSql.query<any>(
          `INSERT INTO registration_sagas (registration_id, event_date_id, kind, state, plan, actor,
             idempotency_scope, lease_until)
           VALUES (1, 1, 'register', ?, '{}', 'takeover-household', ?, NOW(6) - INTERVAL 1 SECOND)`,
          [state, request.idempotencyScope],
        );
        sagaId = String(inserted.insertId);
        await dbs.privateSql.query('UPDATE idempotency_keys SET saga_id = ? WHERE scope_hash = ?', [
          sagaId,
          request.idempotencyScope,
        ]);
        throw new Error('cut off');
      }),
    ).rejects.toThrow('cut off');
    return sagaId;
  }

  /**
   * A statement of another connection to this database that writes, still running on two polls
   * in a row: with our transaction holding the locks and nothing else running, it waits for
   * one of them. (A statement waiting while the optimizer reads a const table, as UPDATE ...
   * JOIN does, is not listed in INNODB_TRX, hence the process list.)
   */
  let lastWriter = '';
  async function someoneWaits(ourThread: number): Promise<boolean> {
    const [rows] = await watch.query<any[]>(
      `SELECT ID, INFO FROM information_schema.PROCESSLIST
        WHERE DB = ? AND ID NOT IN (?, CONNECTION_ID()) AND INFO IS NOT NULL
          AND (INFO LIKE 'UPDATE%' OR INFO LIKE 'DELETE%' OR INFO LIKE '%LOCK IN SHARE MODE%')`,
      [dbs.privateDb.database, ourThread],
    );
    const writer = rows.map((r) => `${r.ID}:${r.INFO}`).join('|');
    const waits = writer !== '' && writer === lastWriter;
    lastWriter = writer;
    return waits;
  }

  it('a retry while recovery supersedes its taking saga: 503 with Retry-After, never a deadlock', async () => {
    const key = 'takeover-vs-supersede';
    const original = await cutOff(key, 'taking');
    const sql = dbs.privateSql;
    const [[{ thread }]] = await sql.query<any[]>('SELECT CONNECTION_ID() AS thread');

    // recovery's supersede, as saga-steps.repository.ts runs it, up to moving the key
    await sql.query('BEGIN');
    await sql.query(
      "SELECT registration_id FROM registration_sagas WHERE id = ? AND state = 'taking' FOR UPDATE",
      [original],
    );
    const [copy] = await sql.query<any>(
      `INSERT INTO registration_sagas (registration_id, event_date_id, kind, state, plan, actor,
         idempotency_scope, lease_until)
       SELECT registration_id, event_date_id, kind, 'taking', plan, actor, idempotency_scope,
              NOW(6) + INTERVAL 2 SECOND
         FROM registration_sagas WHERE id = ?`,
      [original],
    );
    const successor = String(copy.insertId);
    await sql.query(
      "UPDATE registration_sagas SET state = 'failed', outcome = 'SUPERSEDED' WHERE id = ?",
      [original],
    );

    let ran = false;
    let settled = false;
    const retry = send(key, () => {
      ran = true;
      return Promise.resolve({ ran: true });
    }).finally(() => (settled = true));
    retry.catch(() => undefined);
    // the retry answers at once, or waits for a lock of ours: either way, then the key moves
    while (!settled && !(await someoneWaits(Number(thread)))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await sql.query('UPDATE idempotency_keys SET saga_id = ? WHERE saga_id = ?', [
      successor,
      original,
    ]);
    await sql.query('COMMIT');

    const error = await retry.then(
      () => undefined,
      (e: unknown) => e,
    );
    // before the fix: QueryFailedError "Deadlock found when trying to get lock" (a 500)
    expect(error instanceof DomainError ? error.code : String(error)).toBe('SERVICE_UNAVAILABLE');
    expect((error as DomainError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(ran).toBe(false);
    const [[stored]] = await sql.query<any[]>(
      "SELECT k.saga_id, k.state FROM idempotency_keys k JOIN registration_sagas s ON s.id = k.saga_id WHERE s.id = ? AND s.state = 'taking'",
      [successor],
    );
    // the key follows the successor, whose outcome will answer the next retry
    expect({ sagaId: String(stored?.saga_id), state: stored?.state }).toEqual({
      sagaId: successor,
      state: 'in_flight',
    });
  });

  it('a retry of a request whose saga failed (holds nothing) takes the key over and runs again', async () => {
    const key = 'takeover-after-failed';
    await cutOff(key, 'failed');
    let ran = false;
    const body = await send(key, () => {
      ran = true;
      return Promise.resolve({ ran: true });
    });
    expect({ ran, body }).toEqual({ ran: true, body: { ran: true } });
    const again = await send(key, () => Promise.reject(new Error('ran twice')));
    expect(again).toEqual({ ran: true });
  });
});
