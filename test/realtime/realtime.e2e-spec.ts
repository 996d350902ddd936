import { io, Socket } from 'socket.io-client';
import request from 'supertest';
import { DomainEvents } from '../../src/common/domain-events';
import { bearer, createTestApp, TestContext, token } from '../support/app';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createHousehold } from '../support/households';
import { connectRealtime } from '../support/realtime';
import { createSlotDate, seedDimTimes } from '../support/schedule-fixture';
import { until } from '../support/wait';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Availability {
  id: number;
  reserved: number;
  available: number;
  at: string;
  waitlist: { length: number };
  hours: { slots: { id: number; reserved: number; waitlistLength: number }[] }[];
}

interface RegistrationEvent {
  id: string;
  status: string;
  waitlistPosition: number | null;
  at: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A socket.io client that records what it receives. */
class Client {
  readonly availability: { at: number; body: Availability }[] = [];
  readonly registrations: RegistrationEvent[] = [];
  constructor(readonly socket: Socket) {
    socket.on('availability', (body: Availability) =>
      this.availability.push({ at: Date.now(), body }),
    );
    socket.on('registration', (body: RegistrationEvent) => this.registrations.push(body));
  }

  subscribe(eventDateId: unknown): Promise<Record<string, unknown>> {
    return this.socket.timeout(5000).emitWithAck('subscribe', { eventDateId });
  }

  unsubscribe(eventDateId: number): Promise<Record<string, unknown>> {
    return this.socket.timeout(5000).emitWithAck('unsubscribe', { eventDateId });
  }
}

describe('real time over two instances sharing Redis', () => {
  let dbs: TestDatabases;
  let a: TestContext;
  let b: TestContext;
  let urlA: string;
  const clients: Socket[] = [];

  const connect = async (url: string, auth?: { token: string }): Promise<Client> => {
    const socket = await connectRealtime(url, { auth });
    clients.push(socket);
    return new Client(socket);
  };

  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    const env = { REDIS_URL, NOTIFY_POLL_MS: '0', SCHEDULE_CACHE_MS: '0' };
    a = await createTestApp(env, dbs);
    b = await createTestApp(env, dbs);
    urlA = await a.listen();
    await b.listen();
  });
  afterEach(() => {
    for (const s of clients.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await dbs?.drop();
  });

  it('acknowledges a subscription with the date availability, the same body as HTTP', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 2, slotCapacity: 3 });
    const client = await connect(urlA);
    const ack = await client.subscribe(s.dateId);
    const http = await request(a.http).get(`/api/v1/event-dates/${s.dateId}`).expect(200);
    expect(ack).toEqual(http.body);
    expect(await client.subscribe(987654)).toMatchObject({
      error: { code: 'EVENT_DATE_NOT_FOUND' },
    });
    expect(await client.subscribe('x')).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it('pushes a registration made on B to a subscriber on A within a second, never ahead of HTTP', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 2, slotCapacity: 3 });
    const h = await createHousehold(dbs.privateSql);
    const client = await connect(urlA);
    await client.subscribe(s.dateId);
    // at the moment the push arrives, A's HTTP must already show it
    const seenByHttp: number[] = [];
    client.socket.on('availability', () => {
      void request(a.http)
        .get(`/api/v1/event-dates/${s.dateId}`)
        .then((res) => seenByHttp.push(res.body.reserved as number));
    });
    await request(b.http)
      .post('/api/v1/registrations')
      .set('Authorization', bearer(h.sub))
      .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
      .expect(201);
    const committed = Date.now();
    await until(() => client.availability.length > 0, 2000);
    expect(client.availability[0].at - committed).toBeLessThan(1000);
    const pushed = client.availability[client.availability.length - 1].body;
    expect(pushed).toMatchObject({ id: s.dateId, reserved: 1 });
    expect(pushed.hours[0].slots.find((x) => x.id === s.slotIds[0])?.reserved).toBe(1);
    expect(new Date(pushed.at).toISOString()).toBe(pushed.at);
    await until(() => seenByHttp.length === client.availability.length);
    for (const reserved of seenByHttp) expect(reserved).toBeGreaterThanOrEqual(pushed.reserved);
  });

  it("tells a promoted household's client, on another instance, and nobody else", async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const first = await createHousehold(dbs.privateSql);
    const waiting = await createHousehold(dbs.privateSql);
    const bystander = await createHousehold(dbs.privateSql);
    const waitingClient = await connect(urlA, { token: token(waiting.sub) });
    const bystanderClient = await connect(urlA, { token: token(bystander.sub) });
    const anonymous = await connect(urlA);
    await anonymous.subscribe(s.dateId);

    const post = (sub: string) =>
      request(b.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
        .expect(201);
    const confirmed = (await post(first.sub)).body;
    const waitlisted = (await post(waiting.sub)).body;
    expect(waitlisted).toMatchObject({ status: 'waitlisted', waitlistPosition: 1 });
    await until(() => waitingClient.registrations.some((r) => r.status === 'waitlisted'));

    await request(b.http)
      .delete(`/api/v1/registrations/${confirmed.id}`)
      .set('Authorization', bearer(first.sub))
      .expect(200);
    await until(() => waitingClient.registrations.some((r) => r.status === 'confirmed'));
    const promoted = waitingClient.registrations.find((r) => r.status === 'confirmed')!;
    expect(promoted).toEqual({
      id: waitlisted.id,
      status: 'confirmed',
      waitlistPosition: null,
      at: expect.any(String),
    });
    for (const r of waitingClient.registrations) expect(r.id).toBe(waitlisted.id);

    await until(() =>
      anonymous.availability.some((x) => x.body.reserved === 1 && x.body.waitlist.length === 0),
    );
    await sleep(300);
    expect(bystanderClient.registrations).toEqual([]);
    expect(anonymous.registrations).toEqual([]);
  });

  it('refuses a bad or expired token with connect_error UNAUTHENTICATED', async () => {
    const h = await createHousehold(dbs.privateSql);
    for (const bad of [
      token(h.sub, ['participant'], { secret: 'another-secret-of-16-chars' }),
      token(h.sub, ['participant'], { expiresIn: -10 }),
      'not-a-jwt',
    ]) {
      const socket = io(`${urlA}/realtime`, {
        transports: ['websocket'],
        auth: { token: bad },
        reconnection: false,
        forceNew: true,
      });
      clients.push(socket);
      const error = await new Promise<Error & { data?: { code?: string } }>((resolve, reject) => {
        socket.once('connect_error', resolve);
        socket.once('connect', () => reject(new Error('connected with a bad token')));
      });
      expect(error.message).toBe('UNAUTHENTICATED');
      expect(error.data).toEqual({ code: 'UNAUTHENTICATED' });
    }
  });

  it('ends a connection when its token expires', async () => {
    const h = await createHousehold(dbs.privateSql);
    const client = await connect(urlA, { token: token(h.sub, ['participant'], { expiresIn: 2 }) });
    const reason = await new Promise<string>((resolve) =>
      client.socket.once('disconnect', resolve),
    );
    expect(reason).toBe('io server disconnect');
  });

  it('coalesces a burst of 200 changes into a few pushes, the last one showing the final counters', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 500 });
    const client = await connect(urlA);
    await client.subscribe(s.dateId);
    const events = b.app.get(DomainEvents);
    const started = Date.now();
    for (let i = 1; i <= 200; i++) {
      await dbs.publicSql.query('UPDATE event_slots SET reserved = ? WHERE event_slot_id = ?', [
        i,
        s.slotIds[0],
      ]);
      await dbs.publicSql.query('UPDATE event_dates SET reserved = ? WHERE event_date_id = ?', [
        i,
        s.dateId,
      ]);
      events.emit({ type: 'availability', eventDateId: s.dateId, at: new Date() });
    }
    const burstSeconds = (Date.now() - started) / 1000;
    await until(() => client.availability.some((x) => x.body.reserved === 200), 3000);
    await sleep(600);
    const pushes = client.availability;
    // about four a second, plus the leading and trailing pushes
    expect(pushes.length).toBeLessThanOrEqual(Math.ceil(burstSeconds * 4) + 3);
    expect(pushes.length).toBeLessThan(50);
    const last = pushes[pushes.length - 1].body;
    expect(last.reserved).toBe(200);
    expect(last.hours[0].slots[0].reserved).toBe(200);
    for (let i = 1; i < pushes.length; i++) {
      expect(pushes[i].at - pushes[i - 1].at).toBeGreaterThanOrEqual(150);
    }
  });

  it('coalesces concurrent registrations over HTTP, the last push matching the final counters', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 40 });
    const households = await Promise.all(
      Array.from({ length: 30 }, () => createHousehold(dbs.privateSql)),
    );
    const client = await connect(urlA);
    await client.subscribe(s.dateId);
    await Promise.all(
      households.map((h, i) =>
        request(i % 2 === 0 ? b.http : a.http)
          .post('/api/v1/registrations')
          .set('Authorization', bearer(h.sub))
          .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
          .expect(201),
      ),
    );
    await until(() => client.availability.some((x) => x.body.reserved === 30), 3000);
    await sleep(600);
    const pushes = client.availability;
    expect(pushes.length).toBeLessThan(30);
    const last = pushes[pushes.length - 1].body;
    expect(last.reserved).toBe(30);
    expect(last.hours[0].slots[0]).toMatchObject({ reserved: 30, available: 10 });
  });

  it('stops pushing a date after unsubscribe', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const client = await connect(urlA);
    await client.subscribe(s.dateId);
    expect(await client.unsubscribe(s.dateId)).toEqual({ ok: true });
    b.app.get(DomainEvents).emit({ type: 'availability', eventDateId: s.dateId, at: new Date() });
    await sleep(500);
    expect(client.availability).toEqual([]);
  });

  it('reports Redis in readiness', async () => {
    const ready = await request(a.http).get('/health/ready').expect(200);
    expect(ready.body.info).toMatchObject({ redis: { status: 'up' } });
  });
});

describe('real time without Redis', () => {
  let ctx: TestContext;
  let url: string;
  beforeAll(async () => {
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
    url = await ctx.listen();
  });
  afterAll(async () => ctx.close());

  it('pushes in process, and readiness does not mention Redis', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const socket = await connectRealtime(url);
    const client = new Client(socket);
    try {
      await client.subscribe(s.dateId);
      await ctx.dbs.publicSql.query('UPDATE event_dates SET reserved = 4 WHERE event_date_id = ?', [
        s.dateId,
      ]);
      ctx.app
        .get(DomainEvents)
        .emit({ type: 'availability', eventDateId: s.dateId, at: new Date() });
      await until(() => client.availability.length > 0);
      expect(client.availability[0].body.reserved).toBe(4);
    } finally {
      socket.disconnect();
    }
    const ready = await request(ctx.http).get('/health/ready').expect(200);
    expect(ready.body.info.redis).toBeUndefined();
  });
});

describe('real time with Redis unreachable', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0', REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(async () => ctx.close());

  it('still boots, and readiness says Redis is down', async () => {
    // the same app with both databases up answers 200 (see above): here only Redis is missing
    const ready = await request(ctx.http).get('/health/ready').expect(503);
    expect(ready.body).toMatchObject({ statusCode: 503, code: 'SERVICE_UNAVAILABLE' });
    await request(ctx.http).get('/health/live').expect(200);
  });
});
