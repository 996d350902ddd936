import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { IdempotencyRepository } from '../../idempotency/idempotency.repository';
import { MetricsService } from '../../metrics/metrics.service';
import { RegistrationService } from '../registration.service';
import { WaitlistRepository } from '../waitlist.repository';
import { CounterReconciler } from './reconciliation/counter-reconciler';
import { RegistrationSaga } from './registration.saga';
import { SagaRepository } from './saga.repository';
import { SagaStepsRepository } from './saga-steps.repository';

export type RecoveryOutcome =
  'confirmed' | 'waitlisted' | 'full' | 'released' | 'deferred' | 'gone';

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
  private passes = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly steps: SagaStepsRepository,
    private readonly sagas: SagaRepository,
    private readonly waitlist: WaitlistRepository,
    private readonly reconciler: CounterReconciler,
    private readonly saga: RegistrationSaga,
    private readonly service: RegistrationService,
    private readonly events: DomainEvents,
    private readonly metrics: MetricsService,
    private readonly idempotency: IdempotencyRepository,
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

  /** One pass: claims dates whose sagas all outlived their lease, and recovers each date. */
  async tick(): Promise<Map<string, RecoveryOutcome>> {
    const outcomes = new Map<string, RecoveryOutcome>();
    // every few passes, promote wherever someone waits (a promotion that failed after its
    // cancel committed leaves no saga behind to recover) and drop expired idempotency keys
    if (this.passes++ % 5 === 0) {
      await this.sweepWaitlists();
      await this.idempotency.purgeExpired();
    }
    const seen: number[] = [];
    for (let i = 0; i < 20 && !this.stopped; i++) {
      const claim = await this.steps.claimStuckDate(this.config.sagaGraceSeconds, seen);
      if (!claim) break;
      seen.push(claim.eventDateId);
      if (claim.sagaIds.length === 0) continue;
      const results = await this.recoverDate(claim.eventDateId, claim.sagaIds).catch(
        (error: unknown) => {
          this.logger.warn(
            { eventDateId: claim.eventDateId, err: String(error) },
            'recovery deferred',
          );
          return new Map<string, RecoveryOutcome>(claim.sagaIds.map((id) => [id, 'deferred']));
        },
      );
      for (const [id, outcome] of results) {
        outcomes.set(id, outcome);
        if (outcome !== 'deferred') this.metrics.sagaRecovered(outcome);
        this.logger.log({ sagaId: id, eventDateId: claim.eventDateId, outcome }, 'saga recovered');
      }
    }
    return outcomes;
  }

  /** Runs passes until nothing is left to recover or `timeoutMs` passes; for tests and ops. */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.tick();
      const left = await this.sagas.unfinishedCount();
      if (left === 0) return 0;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return this.sagas.unfinishedCount();
  }

  // Every saga of the date is ours now. `taking` ones are superseded (so a still-running
  // original cannot finish them), the counters are reset to the private truth, then releases
  // are closed and takes run again, oldest first.
  private async recoverDate(
    eventDateId: number,
    sagaIds: string[],
  ): Promise<Map<string, RecoveryOutcome>> {
    const outcomes = new Map<string, RecoveryOutcome>();
    const owned: string[] = [];
    const resumes: { original: string; successor: string }[] = [];
    const releases: string[] = [];
    for (const id of sagaIds) {
      const saga = await this.sagas.find(id);
      if (!saga || (saga.state !== 'taking' && saga.state !== 'releasing')) {
        outcomes.set(id, 'gone');
      } else if (saga.state === 'releasing') {
        releases.push(id);
        owned.push(id);
      } else {
        const successor = await this.steps.supersede(id, this.config.sagaGraceSeconds);
        if (!successor) outcomes.set(id, 'gone');
        else {
          resumes.push({ original: id, successor });
          owned.push(successor);
        }
      }
    }
    const result = await this.reconciler.reconcileDate(eventDateId, {
      apply: true,
      ownedSagaIds: owned,
    });
    if (result.skipped) {
      for (const id of [...releases, ...resumes.map((r) => r.original)])
        outcomes.set(id, 'deferred');
      return outcomes;
    }
    for (const id of releases) {
      await this.sagas.finishRelease(id);
      outcomes.set(id, 'released');
    }
    for (const { original, successor } of resumes) {
      const saga = await this.sagas.find(successor);
      outcomes.set(original, saga ? await this.saga.resume(saga) : 'gone');
    }
    await this.afterwards(eventDateId);
    return outcomes;
  }

  private async sweepWaitlists(): Promise<void> {
    for (const eventDateId of await this.waitlist.datesWithWaitlist(50)) {
      if (this.stopped) return;
      const promoted = await this.service.promoteDate(eventDateId, 'recovery').catch(() => []);
      if (promoted.length > 0)
        this.logger.log({ eventDateId, promoted: promoted.length }, 'waitlist promoted by sweep');
    }
  }

  private async afterwards(eventDateId: number): Promise<void> {
    await this.service.promoteDate(eventDateId, 'recovery');
    this.events.emit({ type: 'availability', eventDateId, at: new Date() });
  }
}
