import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HealthIndicatorFunction, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB, PUBLIC_DB } from '../database/database.constants';
import { MetricsService } from '../metrics/metrics.service';
import { RedisHealthIndicator } from './redis.health';

// The checks behind /health/ready, in one place so the route and the readiness_check_up gauge
// (read on each scrape, for alerting) can never disagree about what "ready" means.
@Injectable()
export class ReadinessService implements OnApplicationBootstrap {
  constructor(
    private readonly db: TypeOrmHealthIndicator,
    @InjectDataSource(PUBLIC_DB) private readonly publicDb: DataSource,
    @InjectDataSource(PRIVATE_DB) private readonly privateDb: DataSource,
    private readonly redis: RedisHealthIndicator,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    this.metrics.setReadinessSource(() => this.status());
  }

  /** Both databases, and Redis when configured; each answers up or down, none throws. */
  checks(): HealthIndicatorFunction[] {
    return [
      () => this.db.pingCheck('publicDb', { connection: this.publicDb, timeout: 1500 }),
      () => this.db.pingCheck('privateDb', { connection: this.privateDb, timeout: 1500 }),
      ...(this.redis.configured ? [() => this.redis.pingCheck('redis')] : []),
    ];
  }

  /** Each check by name: true when up. */
  async status(): Promise<Record<string, boolean>> {
    const results = await Promise.all(this.checks().map(async (check) => check()));
    return Object.fromEntries(
      results.flatMap((result) =>
        Object.entries(result).map(([name, state]) => [name, state.status === 'up']),
      ),
    );
  }
}
