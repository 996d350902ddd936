import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DomainEvents } from '../../../common/domain-events';
import { APP_CONFIG, AppConfig } from '../../../config/app-config';
import { MetricsService } from '../../../metrics/metrics.service';
import { PublicCounterRepository } from '../../../schedule/public-counter.repository';
import { CounterReconciler, DateReconciliation } from './counter-reconciler';
import { RegistrationRepository } from '../../registration.repository';

export interface DriftScope {
  eventDateId?: number;
  /** YYYYMMDD: dates on or after it */
  fromDateKey?: number;
}

// The drift check (report only) and the backfill (report and correct), over one date or all
// dates that hold or should hold reservations. A scheduled check (DRIFT_CHECK_INTERVAL_SECONDS,
// off by default) logs and exports what it finds; it never corrects on its own.
@Injectable()
export class DriftService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DriftService.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reconciler: CounterReconciler,
    private readonly registrations: RegistrationRepository,
    private readonly counters: PublicCounterRepository,
    private readonly events: DomainEvents,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    const seconds = this.config.driftCheckIntervalSeconds;
    if (seconds <= 0) return;
    this.timer = setInterval(() => {
      this.check({}, false)
        .then((results) => this.report(results))
        .catch((error: unknown) => this.logger.warn({ err: String(error) }, 'drift check failed'));
    }, seconds * 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(scope: DriftScope, apply: boolean): Promise<DateReconciliation[]> {
    const dates = await this.datesIn(scope);
    const results: DateReconciliation[] = [];
    for (const eventDateId of dates) {
      let result = await this.reconciler.reconcileDate(eventDateId, { apply });
      // with --apply, a date busy with a saga is tried again a few times before it is reported
      for (let attempt = 0; apply && result.skipped && attempt < 5; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        result = await this.reconciler.reconcileDate(eventDateId, { apply });
      }
      if (result.applied) this.events.emit({ type: 'availability', eventDateId, at: new Date() });
      results.push(result);
    }
    return results;
  }

  private report(results: DateReconciliation[]): void {
    for (const result of results) {
      for (const drift of result.drift) {
        this.metrics.driftFound(drift.level, 1);
        this.logger.warn({ ...drift }, 'counter drift found');
      }
    }
  }

  private async datesIn(scope: DriftScope): Promise<number[]> {
    if (scope.eventDateId !== undefined) return [scope.eventDateId];
    const ids = new Set([
      ...(await this.counters.datesWithReservations(scope.fromDateKey)),
      ...(await this.registrations.datesWithHolders()),
    ]);
    if (scope.fromDateKey === undefined) return [...ids].sort((a, b) => a - b);
    const keys = await this.counters.dateKeysOf([...ids]);
    return [...ids]
      .filter((id) => (keys.get(id) ?? 0) >= (scope.fromDateKey ?? 0))
      .sort((a, b) => a - b);
  }
}
