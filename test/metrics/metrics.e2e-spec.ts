import request from 'supertest';
import { DomainEvents } from '../../src/common/domain-events';
import { MetricsService } from '../../src/metrics/metrics.service';
import { createTestApp, TestContext } from '../support/app';
import { participant } from '../support/calls';
import { createHousehold } from '../support/households';
import { createSlotDate } from '../support/schedule-fixture';

function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = match[2] ?? '';
    if (wanted.every(([k, v]) => found.includes(`${k}="${v}"`))) return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
  });
  afterAll(async () => ctx.close());

  const scrape = async () => {
    const res = await request(ctx.http).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    return res.text;
  };

  it('serves Prometheus text with process metrics and both pools, without a token', async () => {
    const text = await scrape();
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'db_pool_connections', { db: 'public', state: 'limit' })).toBe(10);
    expect(
      sample(text, 'db_pool_connections', { db: 'private', state: 'open' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'notification_outbox_backlog')).toBe(0);
  });

  it('labels request latency with the route pattern, not the raw URL', async () => {
    await request(ctx.http).get('/health/live').expect(200);
    await request(ctx.http).get('/api/v1/event-dates/987654').expect(404);
    await request(ctx.http).get('/api/v1/no-such-route/42').expect(404);
    const text = await scrape();
    expect(
      sample(text, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/health/live',
        status: '200',
      }),
    ).toBe(1);
    expect(
      sample(text, 'http_request_duration_seconds_count', {
        route: '/api/v1/event-dates/:id',
        status: '404',
      }),
    ).toBe(1);
    expect(
      sample(text, 'http_request_duration_seconds_count', { route: 'unmatched', status: '404' }),
    ).toBe(1);
    expect(text).not.toContain('987654');
  });

  it('counts what the saga reports and what the domain events say', async () => {
    const metrics = ctx.app.get(MetricsService);
    metrics.registrationOutcome('confirmed');
    metrics.registrationOutcome('confirmed');
    metrics.registrationOutcome('capacity_full');
    metrics.waitlistPromotions(3);
    metrics.idempotentReplay();
    metrics.sagaCompensation('release_counters');
    metrics.sagaRecovered('rolled_back');
    metrics.driftFound('slot', 2);
    ctx.app.get(DomainEvents).emit({ type: 'availability', eventDateId: 1, at: new Date() });
    const text = await scrape();
    expect(sample(text, 'registrations_total', { outcome: 'confirmed' })).toBe(2);
    expect(sample(text, 'registrations_total', { outcome: 'capacity_full' })).toBe(1);
    expect(sample(text, 'waitlist_promotions_total')).toBe(3);
    expect(sample(text, 'idempotent_replays_total')).toBe(1);
    expect(sample(text, 'saga_compensations_total', { kind: 'release_counters' })).toBe(1);
    expect(sample(text, 'saga_recovered_total', { outcome: 'rolled_back' })).toBe(1);
    expect(sample(text, 'counter_drift_found_total', { level: 'slot' })).toBe(2);
    expect(sample(text, 'domain_events_total', { type: 'availability' })).toBe(1);
  });

  it('moves with a real registration: route latency, committed changes, outbox backlog', async () => {
    const before = await scrape();
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 2 });
    const h = await createHousehold(ctx.dbs.privateSql);
    await participant(ctx.http, h)
      .register({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] })
      .expect(201);
    const after = await scrape();
    const route = { method: 'POST', route: '/api/v1/registrations', status: '201' };
    expect(sample(after, 'http_request_duration_seconds_count', route)).toBe(1);
    expect(sample(after, 'http_request_duration_seconds_bucket', { ...route, le: '+Inf' })).toBe(1);
    const changes = (text: string) =>
      sample(text, 'domain_events_total', { type: 'availability' }) ?? 0;
    expect(changes(after)).toBeGreaterThan(changes(before));
    expect(sample(after, 'notification_outbox_backlog')).toBe(
      (sample(before, 'notification_outbox_backlog') ?? 0) + 1,
    );
    await ctx.dbs.privateSql.query('DELETE FROM notification_outbox');
  });

  it('reports the outbox backlog from the database on each scrape', async () => {
    await ctx.dbs.privateSql.query(
      `INSERT INTO notification_outbox (household_id, registration_id, kind, payload) VALUES (1, 1, 'confirmed', '{}'), (1, 2, 'cancelled', '{}')`,
    );
    await new Promise((r) => setTimeout(r, 50));
    const text = await scrape();
    expect(sample(text, 'notification_outbox_backlog')).toBe(2);
    expect(sample(text, 'notification_outbox_oldest_age_seconds')).toBeGreaterThan(0.04);
  });
});
