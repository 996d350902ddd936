import { testEnv, token } from '../support/app';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { counterDrift, createHousehold, TestHousehold } from '../support/households';
import {
  createSlotDate,
  dateKeyFromToday,
  seedDimTimes,
  SlotDate,
} from '../support/schedule-fixture';
import { ServerProcess, startServer } from '../support/server';

// Kill-and-retry rounds against the built server: a request is cut off by a SIGKILL (a
// failpoint between two steps), the server comes back, and the client does what the README
// tells it to: retry with the same Idempotency-Key, and try again after a 503's Retry-After.
// What it may rely on: a key is "in use" (409) only while the request holding it can still be
// alive, that is within the lease (SAGA_GRACE_SECONDS here, the key's own lease being no longer);
// after that a retry gets the outcome of what the dead request started, or runs again when
// nothing had started; never a second registration. A registration held by a saga cut off by
// the crash answers 503 with Retry-After, never 409 INVALID_STATE, and the cancel succeeds once
// recovery has settled it.

const GRACE_SECONDS = 2;
// the lease counts from before the crash; this much slack covers a restart and a slow machine
const SLACK_MS = 1000;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

describe('kill and retry', () => {
  let dbs: TestDatabases;
  let date: SlotDate;
  let env: Record<string, string>;
  const running: ServerProcess[] = [];

  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    // today, so the staff check-in route can be tried too
    date = await createSlotDate(dbs.publicSql, {
      slots: 2,
      slotCapacity: 5,
      dateKey: dateKeyFromToday(0),
    });
    env = testEnv(dbs, { SAGA_GRACE_SECONDS: String(GRACE_SECONDS), RECOVERY_INTERVAL_MS: '0' });
  });
  afterEach(async () => {
    for (const server of running.splice(0)) await server.kill('SIGKILL');
  });
  afterAll(async () => dbs.drop());

  const start = async (extra: Record<string, string> = {}) => {
    const server = await startServer({ ...env, ...extra });
    running.push(server);
    return server;
  };
  const recovering = () => start({ RECOVERY_INTERVAL_MS: '150' });

  async function call(
    server: ServerProcess,
    auth: { sub: string; roles?: string[] },
    method: string,
    path: string,
    options: { body?: object; key?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token(auth.sub, auth.roles)}`,
      'content-type': 'application/json',
    };
    if (options.key) headers['idempotency-key'] = options.key;
    const res = await fetch(server.url + path, {
      method,
      headers,
      body: options.body ? JSON.stringify(options.body) : undefined,
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      headers: res.headers,
    };
  }

  /** Sends the request to a server that dies under it; resolves when the connection is cut. */
  async function cutOff(
    server: ServerProcess,
    ...args: Parameters<typeof call> extends [unknown, ...infer R] ? R : never
  ): Promise<number> {
    await expect(call(server, ...args)).rejects.toThrow();
    await server.exited;
    return Date.now();
  }

  /**
   * Retries until the answer is final. 409 IDEMPOTENCY_KEY_IN_USE is allowed only while the
   * dead request's lease may still run; 503 must carry Retry-After.
   */
  async function retryUntilFinal(
    cutAt: number,
    send: () => Promise<Answer>,
  ): Promise<{ final: Answer; seen: string[] }> {
    const seen: string[] = [];
    const leaseOver = cutAt + GRACE_SECONDS * 1000 + SLACK_MS;
    for (let i = 0; i < 200; i++) {
      const sentAt = Date.now();
      const answer = await send();
      seen.push(`${answer.status} ${JSON.stringify(answer.body.code ?? '')}`);
      if (answer.status === 409 && answer.body.code === 'IDEMPOTENCY_KEY_IN_USE') {
        if (sentAt > leaseOver)
          throw new Error(
            `409 IDEMPOTENCY_KEY_IN_USE after the lease was over: ${seen.join(', ')}`,
          );
      } else if (answer.status === 503) {
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      } else {
        return { final: answer, seen };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no final answer: ${seen.join(', ')}`);
  }

  async function settled(): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const [[row]] = await dbs.privateSql.query<any[]>(
        "SELECT COUNT(*) AS n FROM registration_sagas WHERE state IN ('taking', 'releasing')",
      );
      if (Number(row.n) === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('sagas still unfinished');
  }

  async function activeRegistrations(h: TestHousehold): Promise<any[]> {
    const [rows] = await dbs.privateSql.query<any[]>(
      `SELECT id, status FROM event_registrations
        WHERE household_id = ? AND status IN ('pending', 'confirmed', 'waitlisted', 'checked_in')`,
      [h.id],
    );
    return rows;
  }

  async function registered(h: TestHousehold): Promise<string> {
    const server = await start();
    const res = await call(server, h, 'POST', '/api/v1/registrations', {
      body: { eventDateId: date.dateId, eventSlotId: date.slotIds[0] },
    });
    expect(res.status).toBe(201);
    await server.kill('SIGTERM');
    return String(res.body.id);
  }

  it.each([
    ['after its seat was taken (the saga was running)', 'take.after-counters'],
    ['right after its key was claimed (nothing had started)', 'idempotency.after-claim'],
  ])(
    'a registration cut off %s: the retry gets one registration, never a 409 past the lease',
    async (_, failpoint) => {
      const h = await createHousehold(dbs.privateSql);
      const key = `register-${failpoint}`;
      const body = { eventDateId: date.dateId, eventSlotId: date.slotIds[1] };
      const dying = await start({ FAILPOINTS: `${failpoint}:crash:1` });
      const cutAt = await cutOff(dying, h, 'POST', '/api/v1/registrations', { body, key });

      const server = await recovering();
      const { final, seen } = await retryUntilFinal(cutAt, () =>
        call(server, h, 'POST', '/api/v1/registrations', { body, key }),
      );
      expect({ status: final.status, seen }).toEqual({ status: 201, seen });
      expect(['confirmed', 'waitlisted']).toContain(final.body.status);
      // the same answer again, and still one registration
      const again = await call(server, h, 'POST', '/api/v1/registrations', { body, key });
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body.id).toBe(final.body.id);
      await settled();
      expect((await activeRegistrations(h)).map((r) => String(r.id))).toEqual([final.body.id]);
      expect(await counterDrift(dbs.publicSql, dbs.privateSql, date.dateId)).toEqual([]);
    },
  );

  it('a cancel cut off after its private commit: the retry gets the cancelled registration', async () => {
    const h = await createHousehold(dbs.privateSql);
    const id = await registered(h);
    const key = 'cancel-cut-off';
    const dying = await start({ FAILPOINTS: 'cancel.after-intent:crash:1' });
    const cutAt = await cutOff(dying, h, 'DELETE', `/api/v1/registrations/${id}`, { key });

    const server = await recovering();
    const { final, seen } = await retryUntilFinal(cutAt, () =>
      call(server, h, 'DELETE', `/api/v1/registrations/${id}`, { key }),
    );
    expect({ status: final.status, seen }).toEqual({ status: 200, seen });
    expect(final.body).toMatchObject({ id, status: 'cancelled' });
    await settled();
    expect(await counterDrift(dbs.publicSql, dbs.privateSql, date.dateId)).toEqual([]);
  });

  it('a registration held by a saga the crash cut off: 503 with Retry-After (never 409), then the cancel succeeds once recovered', async () => {
    const h = await createHousehold(dbs.privateSql);
    const id = await registered(h);
    // a move cut off after its take: the registration stays held by that saga until recovery
    const dying = await start({ FAILPOINTS: 'take.after-counters:crash:1' });
    await cutOff(dying, h, 'PATCH', `/api/v1/registrations/${id}`, {
      body: { eventSlotId: date.slotIds[1] },
    });

    // no recovery on this one, so the registration stays held while every route is tried
    const server = await start();
    const staff = { sub: 'kill-retry-staff', roles: ['staff'] };
    const key = 'cancel-while-held';
    const attempts: [string, () => Promise<Answer>][] = [
      ['DELETE', () => call(server, h, 'DELETE', `/api/v1/registrations/${id}`, { key })],
      [
        'PATCH',
        () =>
          call(server, h, 'PATCH', `/api/v1/registrations/${id}`, {
            body: { eventSlotId: date.slotIds[0] },
          }),
      ],
      ['staff DELETE', () => call(server, staff, 'DELETE', `/api/v1/admin/registrations/${id}`)],
      [
        'staff check-in',
        () =>
          call(server, staff, 'POST', `/api/v1/admin/registrations/${id}/check-in`, { body: {} }),
      ],
    ];
    for (const [label, attempt] of attempts) {
      const res = await attempt();
      expect({ label, status: res.status, code: res.body.code }).toEqual({
        label,
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
      });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    await server.kill('SIGTERM');

    const recovered = await recovering();
    await settled();
    // the same cancel, same key: the 503 was not stored, so it runs now and succeeds
    const res = await call(recovered, h, 'DELETE', `/api/v1/registrations/${id}`, { key });
    expect({ status: res.status, registrationStatus: res.body.status }).toEqual({
      status: 200,
      registrationStatus: 'cancelled',
    });
    await settled();
    expect(await counterDrift(dbs.publicSql, dbs.privateSql, date.dateId)).toEqual([]);
  });
});
