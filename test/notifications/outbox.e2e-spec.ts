import { createHmac } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createHousehold } from '../support/households';
import { createSlotDate, seedDimTimes } from '../support/schedule-fixture';
import { until } from '../support/wait';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../../src/database/database.constants';
import { NotificationOutboxRepository } from '../../src/notifications/notification-outbox.repository';
import { OutboxDispatcher } from '../../src/notifications/outbox.dispatcher';

const SECRET = 'webhook-secret-for-tests';

interface Received {
  id: string;
  body: string;
  signature: string | undefined;
  status: number;
  at: number;
}

/** A webhook receiver whose answer to each request is decided by `decide` (default 204). */
class Receiver {
  readonly requests: Received[] = [];
  decide: (id: string, attempt: number) => number = () => 204;
  /** how long each answer is held back, so that requests overlap */
  holdMs = 0;
  /** the most requests open at the same time */
  maxOpen = 0;
  private open = 0;
  private server!: Server;
  private attempts = new Map<string, number>();

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.maxOpen = Math.max(this.maxOpen, ++this.open);
      res.on('finish', () => this.open--);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const id = String(req.headers['x-notification-id']);
        const attempt = (this.attempts.get(id) ?? 0) + 1;
        this.attempts.set(id, attempt);
        const status = this.decide(id, attempt);
        const signature = req.headers['x-signature'];
        this.requests.push({
          id,
          body: Buffer.concat(chunks).toString('utf8'),
          signature: typeof signature === 'string' ? signature : undefined,
          status,
          at: Date.now(),
        });
        setTimeout(() => res.writeHead(status).end(), this.holdMs);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  accepted(): Received[] {
    return this.requests.filter((r) => r.status < 300);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// deliveries retry with backoff: give them longer than the default
const eventually = (condition: () => boolean | Promise<boolean>) => until(condition, 15_000);

interface Written {
  id: string;
  householdId: string;
  payload: string;
}

async function write(
  dbs: TestDatabases,
  householdId: number,
  n: number,
  tag: string,
): Promise<Written[]> {
  const out: Written[] = [];
  for (let i = 0; i < n; i++) {
    // unusual characters on purpose: the body must arrive byte for byte
    const payload = JSON.stringify({
      householdId: String(householdId),
      kind: 'confirmed',
      seq: i,
      tag,
      note: 'Zoë ✓ "q" \\ ü',
    });
    const [r] = await dbs.privateSql.query<ResultSetHeader>(
      'INSERT INTO notification_outbox (household_id, registration_id, kind, payload) VALUES (?, ?, ?, ?)',
      [householdId, 1000 + i, 'confirmed', payload],
    );
    out.push({ id: String(r.insertId), householdId: String(householdId), payload });
  }
  return out;
}

function interleave(...lists: Written[][]): Written[] {
  return lists.flat();
}

/** Asserts: each message arrived as written, signed, and no household saw a later message before an earlier one was accepted. */
function checkDelivery(receiver: Receiver, written: Written[]): void {
  const byId = new Map(written.map((w) => [w.id, w]));
  for (const r of receiver.requests) {
    const w = byId.get(r.id);
    expect(w).toBeDefined();
    expect(r.body).toBe(w!.payload);
    expect(r.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
  }
  const accepted = new Set(receiver.accepted().map((r) => r.id));
  for (const w of written) expect(accepted.has(w.id)).toBe(true);
  const households = new Set(written.map((w) => w.householdId));
  for (const h of households) {
    const mine = written.filter((w) => w.householdId === h).map((w) => Number(w.id));
    const seen = receiver.requests.filter((r) => byId.get(r.id)!.householdId === h);
    const done = new Set<number>();
    for (const r of seen) {
      const id = Number(r.id);
      // every earlier message of the household was already accepted
      for (const earlier of mine.filter((m) => m < id)) expect(done.has(earlier)).toBe(true);
      if (r.status < 300) done.add(id);
    }
  }
}

describe('notification outbox dispatcher', () => {
  let dbs: TestDatabases;
  let receiver: Receiver;
  let url: string;
  const apps: TestContext[] = [];

  const start = async (extra: Record<string, string> = {}) => {
    const ctx = await createTestApp(
      {
        NOTIFY_WEBHOOK_URL: url,
        NOTIFY_WEBHOOK_SECRET: SECRET,
        NOTIFY_POLL_MS: '30',
        NOTIFY_BACKOFF_MS: '40',
        ...extra,
      },
      dbs,
    );
    apps.push(ctx);
    return ctx;
  };

  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
  });
  beforeEach(async () => {
    receiver = new Receiver();
    url = await receiver.start();
    await dbs.privateSql.query('DELETE FROM notification_outbox');
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await receiver.stop();
  });
  afterAll(async () => dbs.drop());

  it('delivers every message as written, signed, in order per household, through failures', async () => {
    const written = interleave(
      await write(dbs, 1, 5, 'a'),
      await write(dbs, 2, 5, 'b'),
      await write(dbs, 3, 5, 'c'),
    );
    let calls = 0;
    receiver.decide = () => (++calls <= 7 ? 500 : 204);
    await start();
    await eventually(() => receiver.accepted().length >= written.length);
    checkDelivery(receiver, written);
    expect(receiver.requests.filter((r) => r.status >= 500)).toHaveLength(7);
    await eventually(async () => {
      const [rows] = await dbs.privateSql.query<RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM notification_outbox WHERE sent_at IS NULL',
      );
      return Number(rows[0].n) === 0;
    });
    const [failed] = await dbs.privateSql.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM notification_outbox WHERE last_error IS NOT NULL',
    );
    expect(Number(failed[0].n)).toBe(0);
  });

  it('loses nothing across a dispatcher restart, and two dispatchers never break the order', async () => {
    const written = interleave(await write(dbs, 4, 8, 'd'), await write(dbs, 5, 8, 'e'));
    // slow answers, so the first instance is stopped with deliveries in flight
    receiver.decide = (_id, attempt) => (attempt === 1 && Math.random() < 0.3 ? 503 : 204);
    const first = await start();
    await eventually(() => receiver.accepted().length >= 3);
    await first.close();
    apps.splice(apps.indexOf(first), 1);
    const acceptedBefore = receiver.accepted().length;
    expect(acceptedBefore).toBeLessThan(written.length);
    // two instances on the same outbox from here on
    await start();
    await start();
    await eventually(() => new Set(receiver.accepted().map((r) => r.id)).size >= written.length);
    checkDelivery(receiver, written);
  });

  it('redelivers a message claimed by a dispatcher that died mid-delivery once its lease runs out', async () => {
    const written = interleave(await write(dbs, 8, 2, 'h'), await write(dbs, 9, 2, 'i'));
    // a dispatcher claims the heads and dies before recording anything
    const crashed = await start({ NOTIFY_POLL_MS: '0' });
    const claimed = await crashed.app.get(NotificationOutboxRepository).claimDue(10, 700);
    expect(claimed.map((m) => m.id).sort()).toEqual([written[0].id, written[2].id].sort());
    const claimedAt = Date.now();
    await start();
    await eventually(() => receiver.accepted().length >= written.length);
    const firstDelivery = receiver.requests[0];
    expect([written[0].id, written[2].id]).toContain(firstDelivery.id);
    // nothing of those households went out while the lease was held
    expect(firstDelivery.at - claimedAt).toBeGreaterThanOrEqual(600);
    checkDelivery(receiver, written);
  });

  it('gives up on a message after the retry window, records why, and moves on to the next', async () => {
    const written = await write(dbs, 6, 3, 'f');
    const doomed = written[0].id;
    receiver.decide = (id) => (id === doomed ? 500 : 204);
    await start({ NOTIFY_RETRY_FOR_SECONDS: '1' });
    await eventually(() => receiver.accepted().length >= 2);
    const attemptsOnDoomed = receiver.requests.filter((r) => r.id === doomed).length;
    expect(attemptsOnDoomed).toBeGreaterThanOrEqual(2);
    // the later ones only after the first was given up
    const firstLater = receiver.requests.findIndex((r) => r.id !== doomed);
    expect(receiver.requests.slice(firstLater).some((r) => r.id === doomed)).toBe(false);
    const [rows] = await dbs.privateSql.query<RowDataPacket[]>(
      'SELECT sent_at, last_error FROM notification_outbox WHERE id = ?',
      [doomed],
    );
    expect(rows[0].sent_at).not.toBeNull();
    expect(rows[0].last_error).toMatch(/gave up: webhook answered 500/);
  });

  it('delivers what registrations over HTTP write: a promotion after the cancel that made room, in order', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const first = await createHousehold(dbs.privateSql);
    const second = await createHousehold(dbs.privateSql);
    let calls = 0;
    receiver.decide = () => (++calls % 2 === 1 ? 502 : 200);
    const ctx = await start();
    const post = (sub: string) =>
      request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
        .expect(201);
    const confirmed = (await post(first.sub)).body;
    const waitlisted = (await post(second.sub)).body;
    await request(ctx.http)
      .delete(`/api/v1/registrations/${confirmed.id}`)
      .set('Authorization', bearer(first.sub))
      .expect(200);
    const [rows] = await dbs.privateSql.query<RowDataPacket[]>(
      'SELECT id, household_id, registration_id, kind, payload FROM notification_outbox ORDER BY id',
    );
    const kinds = (household: string) =>
      rows.filter((r) => String(r.household_id) === household).map((r) => r.kind);
    expect(kinds(first.id)).toEqual(['confirmed', 'cancelled']);
    expect(kinds(second.id)).toEqual(['waitlisted', 'promoted']);
    const written = rows.map((r) => ({
      id: String(r.id),
      householdId: String(r.household_id),
      payload: String(r.payload),
    }));
    await eventually(() => receiver.accepted().length >= written.length);
    checkDelivery(receiver, written);
    const promoted = JSON.parse(
      receiver.accepted().find((r) => r.id === written[written.length - 1].id)!.body,
    );
    expect(promoted).toMatchObject({
      registrationId: waitlisted.id,
      householdId: second.id,
      status: 'confirmed',
    });
  });

  /** Runs one dispatch pass by hand, counting the statements that mark messages sent. */
  async function dispatchCountingSentMarks(ctx: TestContext): Promise<unknown[][]> {
    const query = jest.spyOn(ctx.app.get<DataSource>(getDataSourceToken(PRIVATE_DB)), 'query');
    try {
      await ctx.app.get(OutboxDispatcher).dispatchDue();
      return (query.mock.calls as [string, unknown[]][])
        .filter(([sql]) =>
          /^UPDATE notification_outbox SET sent_at = NOW\(6\), last_error = NULL/.test(sql),
        )
        .map(([, params]) => params);
    } finally {
      query.mockRestore();
    }
  }

  async function outboxRows(ids: string[]) {
    const [rows] = await dbs.privateSql.query<RowDataPacket[]>(
      'SELECT id, sent_at, last_error FROM notification_outbox WHERE id IN (?) ORDER BY id',
      [ids],
    );
    return rows.map((r) => ({
      id: String(r.id),
      sent: r.sent_at !== null,
      lastError: r.last_error as string | null,
    }));
  }

  it('marks a round of delivered messages sent in one statement, and not the one whose delivery failed', async () => {
    const heads = [];
    for (let h = 11; h <= 15; h++) heads.push(...(await write(dbs, h, 1, `round-${h}`)));
    // a second message of a household waits for the next round: it is not the head
    const later = await write(dbs, 11, 1, 'round-later');
    const failing = heads[2].id;
    receiver.decide = (id) => (id === failing ? 500 : 204);
    const ctx = await start({ NOTIFY_POLL_MS: '0' });

    const marks = await dispatchCountingSentMarks(ctx);

    const delivered = heads.filter((m) => m.id !== failing).map((m) => m.id);
    expect(
      receiver
        .accepted()
        .map((r) => r.id)
        .sort(),
    ).toEqual([...delivered].sort());
    expect(marks).toEqual([[delivered]]);
    expect(await outboxRows([...heads.map((m) => m.id), later[0].id])).toEqual([
      ...heads.map((m) =>
        m.id === failing
          ? { id: m.id, sent: false, lastError: 'webhook answered 500' }
          : { id: m.id, sent: true, lastError: null },
      ),
      { id: later[0].id, sent: false, lastError: null },
    ]);
  });

  it('delivers a round larger than 20 with at most 20 requests open at once, marked in one statement', async () => {
    const heads = [];
    for (let h = 100; h < 130; h++) heads.push(...(await write(dbs, h, 1, `wide-${h}`)));
    receiver.holdMs = 100;
    const ctx = await start({ NOTIFY_POLL_MS: '0' });

    const marks = await dispatchCountingSentMarks(ctx);

    expect(receiver.accepted()).toHaveLength(heads.length);
    expect(receiver.maxOpen).toBe(20);
    expect(marks).toHaveLength(1);
    expect((marks[0][0] as string[]).sort()).toEqual(heads.map((m) => m.id).sort());
    expect((await outboxRows(heads.map((m) => m.id))).every((r) => r.sent)).toBe(true);
  });

  it('without a webhook, marks messages done after logging ids and kind only, counted as skipped, not sent', async () => {
    await write(dbs, 7, 2, 'g');
    const ctx = await start({ NOTIFY_WEBHOOK_URL: '' });
    await eventually(async () => {
      const [rows] = await dbs.privateSql.query<RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM notification_outbox WHERE sent_at IS NULL',
      );
      return Number(rows[0].n) === 0;
    });
    expect(receiver.requests).toHaveLength(0);
    const metrics = (await request(ctx.http).get('/metrics').expect(200)).text;
    const deliveries = (result: string) =>
      Number(
        new RegExp(`^notification_deliveries_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(
          metrics,
        )?.[1] ?? 0,
      );
    expect({ sent: deliveries('sent'), skipped: deliveries('skipped') }).toEqual({
      sent: 0,
      skipped: 2,
    });
    expect(metrics).toMatch(/^notification_delivery_failures_total 0$/m);
  });
});
