import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Subscription } from 'rxjs';
import { DataSource } from 'typeorm';
import { DomainEvents } from '../common/domain-events';
import { PRIVATE_DB, PUBLIC_DB } from '../database/database.constants';
import type { CounterLevel } from '../schedule/public-counter.repository';
import { poolUsage } from './pool-usage';

export type RegistrationOutcome =
  | 'confirmed'
  | 'waitlisted'
  | 'capacity_full'
  | 'already_registered'
  | 'rejected'
  | 'failed'
  | (string & {});

export interface OutboxBacklog {
  pending: number;
  oldestAgeSeconds: number;
}

// The label values counted below, spelled out so the compiler keeps them complete (the saga's
// kinds and recovery outcomes come from the registrations module: setSagaLabels).
const DRIFT_LEVELS = { slot: 0, hour: 0, date: 0 } satisfies Record<CounterLevel, 0>;
const DELIVERY_RESULTS = { sent: 0, skipped: 0, retry: 0, failed: 0 } satisfies Record<
  DeliveryResult,
  0
>;
/** skipped: no webhook is configured, so the message was only logged */
export type DeliveryResult = 'sent' | 'skipped' | 'retry' | 'failed';

// Prometheus metrics of this instance. Each app instance has its own registry (tests run two
// apps in one process); services call the methods below, nothing else touches prom-client.
@Injectable()
export class MetricsService implements OnModuleInit, OnModuleDestroy {
  readonly registry = new Registry();
  private readonly subscriptions: Subscription[] = [];
  private outboxBacklogSource?: () => Promise<OutboxBacklog>;
  private outboxBacklogRead?: Promise<OutboxBacklog>;
  private readinessSource?: () => Promise<Record<string, boolean>>;

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route (the route pattern) and status',
    labelNames: ['method', 'route', 'status'] as const,
    // 0.2 is the registration route's p99 objective (deploy/prometheus/alerts.yml): a bucket
    // boundary there makes the alert exact instead of interpolated between 0.1 and 0.25
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly registrations = new Counter({
    name: 'registrations_total',
    help: 'Registration attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly compensations = new Counter({
    name: 'saga_compensations_total',
    help: 'Saga compensations run, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly recovered = new Counter({
    name: 'saga_recovered_total',
    help: 'Unfinished sagas finished by recovery, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly replays = new Counter({
    name: 'idempotent_replays_total',
    help: 'Responses replayed for a repeated Idempotency-Key',
    registers: [this.registry],
  });

  private readonly promotions = new Counter({
    name: 'waitlist_promotions_total',
    help: 'Waitlisted registrations confirmed',
    registers: [this.registry],
  });

  private readonly drift = new Counter({
    name: 'counter_drift_found_total',
    help: 'Public reserved counters found to differ from the private registrations, by level',
    labelNames: ['level'] as const,
    registers: [this.registry],
  });

  private readonly domainEvents = new Counter({
    name: 'domain_events_total',
    help: 'Committed changes seen by this instance, by type and action',
    labelNames: ['type', 'action'] as const,
    registers: [this.registry],
  });

  private readonly deliveries = new Counter({
    name: 'notification_deliveries_total',
    help: 'Notification delivery attempts by result (sent, retry, failed; skipped: no webhook configured, only logged)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private readonly deliveryFailures = new Counter({
    name: 'notification_delivery_failures_total',
    help: 'Notification delivery attempts that failed (each retry counts)',
    registers: [this.registry],
  });

  private readonly realtimePushes = new Counter({
    name: 'realtime_pushes_total',
    help: 'Real-time events emitted by this instance, by event',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  constructor(
    private readonly events: DomainEvents,
    @InjectDataSource(PUBLIC_DB) private readonly publicDb: DataSource,
    @InjectDataSource(PRIVATE_DB) private readonly privateDb: DataSource,
  ) {
    collectDefaultMetrics({ register: this.registry });
    const sources = { public: this.publicDb, private: this.privateDb };
    new Gauge({
      name: 'db_pool_connections',
      help: 'Connections of each database pool by state (open, idle, in_use, waiting requests, limit)',
      labelNames: ['db', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [db, source] of Object.entries(sources)) {
          const usage = poolUsage(source);
          for (const [state, value] of Object.entries(usage) as [string, number | undefined][]) {
            if (value !== undefined) this.set({ db, state }, value);
          }
        }
      },
    });
    const backlog = () => this.readOutboxBacklog();
    new Gauge({
      name: 'notification_outbox_backlog',
      help: 'Notifications written but not yet delivered (or given up)',
      registers: [this.registry],
      async collect() {
        const read = await backlog();
        if (read) this.set(read.pending);
      },
    });
    new Gauge({
      name: 'notification_outbox_oldest_age_seconds',
      help: 'Age of the oldest notification not yet delivered (0 when none)',
      registers: [this.registry],
      async collect() {
        const read = await backlog();
        if (read) this.set(read.oldestAgeSeconds);
      },
    });
    const readiness = () => this.readReadiness();
    new Gauge({
      name: 'readiness_check_up',
      help: 'Each check of /health/ready, run on scrape: 1 when it answers, 0 when not',
      labelNames: ['check'] as const,
      registers: [this.registry],
      async collect() {
        const status = await readiness();
        this.reset();
        for (const [check, up] of Object.entries(status)) this.set({ check }, up ? 1 : 0);
      },
    });
    // Every known label value starts at 0: a series born at 1 hides its first increment from
    // increase() and rate(), and the alerts on these counters would miss it.
    for (const level of Object.keys(DRIFT_LEVELS)) this.drift.inc({ level }, 0);
    for (const result of Object.keys(DELIVERY_RESULTS)) this.deliveries.inc({ result }, 0);
  }

  onModuleInit(): void {
    this.subscriptions.push(
      this.events.stream.subscribe((event) => {
        this.domainEvents.inc({
          type: event.type,
          action: event.type === 'registration' ? event.action : 'changed',
        });
      }),
    );
  }

  onModuleDestroy(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }

  /** How the outbox backlog is counted on scrape (registered by the notifications module). */
  setOutboxBacklogSource(source: () => Promise<OutboxBacklog>): void {
    this.outboxBacklogSource = source;
  }

  /** One database read per scrape for both outbox gauges: they are collected concurrently. */
  private async readOutboxBacklog(): Promise<OutboxBacklog | undefined> {
    const source = this.outboxBacklogSource;
    if (!source) return undefined;
    this.outboxBacklogRead ??= source().finally(() => {
      this.outboxBacklogRead = undefined;
    });
    try {
      return await this.outboxBacklogRead;
    } catch {
      // a scrape must not fail because the private database is down; readiness says so
      return undefined;
    }
  }

  /** How readiness is checked on scrape (registered by the health module). */
  setReadinessSource(source: () => Promise<Record<string, boolean>>): void {
    this.readinessSource = source;
  }

  private async readReadiness(): Promise<Record<string, boolean>> {
    return (await this.readinessSource?.()) ?? {};
  }

  /** The saga kinds and recovery outcomes there are (registered by the registrations module). */
  setSagaLabels(labels: { kinds: readonly string[]; recoveryOutcomes: readonly string[] }): void {
    for (const kind of labels.kinds) this.compensations.inc({ kind }, 0);
    for (const outcome of labels.recoveryOutcomes) this.recovered.inc({ outcome }, 0);
  }

  registrationOutcome(outcome: RegistrationOutcome): void {
    this.registrations.inc({ outcome });
  }

  sagaCompensation(kind: string): void {
    this.compensations.inc({ kind });
  }

  sagaRecovered(outcome: string): void {
    this.recovered.inc({ outcome });
  }

  idempotentReplay(): void {
    this.replays.inc();
  }

  waitlistPromotions(n: number): void {
    if (n > 0) this.promotions.inc(n);
  }

  driftFound(level: string, n: number): void {
    if (n > 0) this.drift.inc({ level }, n);
  }

  notificationDelivery(result: DeliveryResult): void {
    this.deliveries.inc({ result });
    if (result === 'retry' || result === 'failed') this.deliveryFailures.inc();
  }

  realtimePush(event: 'availability' | 'registration'): void {
    this.realtimePushes.inc({ event });
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
