import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DomainEvents } from '../common/domain-events';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { RegistrationRepository } from '../registrations/registration.repository';
import { RegistrationSaga } from '../registrations/registration.saga';
import { RegistrationService } from '../registrations/registration.service';
import { CounterReconciler } from './counter-reconciler';
import { ReconciliationRepository } from './reconciliation.repository';

export type RecoveryOutcome = 'confirmed' | 'waitlisted' | 'full' | 'released' | 'deferred' | 'gone';

// Finishes or undoes sagas cut short by a crash. Every instance runs this loop; a saga is
// claimed with FOR UPDATE SKIP LOCKED and a lease, so two instances never work on the same one.
// For each: the counters of its date are reset to the private truth under their row locks
// (CounterReconciler), which settles whatever the dead process did or did not do in public;
// then a `taking` saga takes its seat again (confirm, waitlist or fail) and a `releasing` one
// is simply done. Freed room then promotes the waitlist.
@Injectable()
export class RecoveryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RecoveryService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reconciliation: ReconciliationRepository,
    private readonly reconciler: CounterReconciler,
    private readonly registrations: RegistrationRepository,
    private readonly saga: RegistrationSaga,
    private readonly service: RegistrationService,
    private readonly events: DomainEvents,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.recoveryIntervalMs > 0) this.schedule(this.config.recoveryIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((error: unknown) => this.logger.warn({ err: String(error) }, 'recovery pass failed'))
        .finally(() => this.schedule(this.config.recoveryIntervalMs));
    }, delay);
    this.timer.unref();
  }

  /** One pass: claims the sagas whose lease expired and recovers each. */
  async tick(): Promise<Map<string, RecoveryOutcome>> {
    const outcomes = new Map<string, RecoveryOutcome>();
    const ids = await this.reconciliation.claimStuck(20, this.config.sagaGraceSeconds);
    for (const id of ids) {
      if (this.stopped) break;
      const outcome = await this.recover(id).catch((error: unknown) => {
        this.logger.warn({ sagaId: id, err: String(error) }, 'saga recovery deferred');
        return 'deferred' as const;
      });
      outcomes.set(id, outcome);
      if (outcome !== 'deferred') this.metrics.sagaRecovered(outcome);
      this.logger.log({ sagaId: id, outcome }, 'saga recovered');
    }
    return outcomes;
  }

  /** Runs passes until nothing is left to recover or `timeoutMs` passes; for tests and ops. */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.tick();
      const left = await this.reconciliation.unfinishedCount();
      if (left === 0) return 0;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return this.reconciliation.unfinishedCount();
  }

  private async recover(sagaId: string): Promise<RecoveryOutcome> {
    const saga = await this.registrations.findSaga(sagaId);
    if (!saga || (saga.state !== 'taking' && saga.state !== 'releasing')) return 'gone';

    if (saga.state === 'releasing') {
      const result = await this.reconciler.reconcileDate(saga.eventDateId, { apply: true, ownedSagaIds: [saga.id] });
      if (result.skipped) return 'deferred';
      await this.reconciliation.markReleased(saga.id);
      await this.afterwards(saga.eventDateId);
      return 'released';
    }

    const successor = await this.reconciliation.supersede(saga.id, this.config.sagaGraceSeconds);
    if (!successor) return 'gone';
    const result = await this.reconciler.reconcileDate(saga.eventDateId, { apply: true, ownedSagaIds: [successor] });
    if (result.skipped) return 'deferred';
    const resumed = await this.registrations.findSaga(successor);
    if (!resumed) return 'gone';
    const outcome = await this.saga.resume(resumed);
    await this.afterwards(saga.eventDateId);
    return outcome;
  }

  private async afterwards(eventDateId: number): Promise<void> {
    await this.service.promoteDate(eventDateId, 'recovery');
    this.events.emit({ type: 'availability', eventDateId, at: new Date() });
  }
}
