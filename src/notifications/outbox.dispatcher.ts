import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { NotificationOutboxRepository, OutboxMessage } from './notification-outbox.repository';
import { DELIVERY_TIMEOUT_MS, DeliveryError, postNotification } from './webhook.client';

const BATCH = 20;
// a claimed message stays invisible to other dispatchers this long: longer than any delivery
const LEASE_MS = DELIVERY_TIMEOUT_MS + 25_000;
const MAX_BACKOFF_MS = 5 * 60_000;

// Delivers the outbox, at least once, in order per household, from any number of instances.
// Each round claims due messages (see NotificationOutboxRepository.claimDue), POSTs them to the
// webhook in parallel across households, then records the outcome. A failed delivery is retried
// with exponential backoff until NOTIFY_RETRY_FOR_SECONDS after it was written, then given up
// on with its last error. If the process dies mid-delivery, the claim's lease runs out and
// another round delivers the message again; the receiver dedupes by X-Notification-Id.
@Injectable()
export class OutboxDispatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(OutboxDispatcher.name);
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly outbox: NotificationOutboxRepository,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    this.metrics.setOutboxBacklogSource(() => this.outbox.backlog());
    if (this.config.notify.pollMs > 0) this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }

  /** One pass over everything due now; exposed for tests and ops. */
  async dispatchDue(): Promise<number> {
    let delivered = 0;
    while (!this.stopped) {
      const batch = await this.outbox.claimDue(BATCH, LEASE_MS);
      // settle every delivery before the next claim (or shutdown), even when one fails
      const results = await Promise.allSettled(batch.map((message) => this.deliver(message)));
      const failure = results.find((r) => r.status === 'rejected');
      if (failure) throw failure.reason;
      delivered += batch.length;
      if (batch.length < BATCH) break;
    }
    return delivered;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.dispatchDue()
        .then(() => undefined)
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'outbox round failed; retrying on the next poll');
        })
        .finally(() => {
          this.round = undefined;
          this.schedule(this.config.notify.pollMs);
        });
    }, delayMs);
  }

  private async deliver(message: OutboxMessage): Promise<void> {
    const { webhookUrl, webhookSecret } = this.config.notify;
    try {
      if (webhookUrl === undefined) {
        // ids and kind only: the payload may name people
        this.logger.log(
          {
            notificationId: message.id,
            kind: message.kind,
            registrationId: message.registrationId,
            householdId: message.householdId,
          },
          'notification (no webhook configured)',
        );
      } else {
        await postNotification(webhookUrl, webhookSecret, message);
      }
    } catch (error) {
      await this.failed(
        message,
        error instanceof DeliveryError ? error.message : 'delivery failed',
      );
      return;
    }
    await this.outbox.markSent(message.id);
    // only logged is not sent: a dashboard must not show deliveries that never left the process
    this.metrics.notificationDelivery(webhookUrl === undefined ? 'skipped' : 'sent');
  }

  private async failed(message: OutboxMessage, reason: string): Promise<void> {
    const retryFor = this.config.notify.retryForSeconds;
    const remainingMs = (retryFor - message.ageSeconds) * 1000;
    const context = {
      notificationId: message.id,
      kind: message.kind,
      attempts: message.attempts,
      reason,
    };
    if (remainingMs <= 0) {
      await this.outbox.markFailed(message.id, reason);
      this.metrics.notificationDelivery('failed');
      this.logger.warn(context, `notification given up after ${retryFor} s`);
      return;
    }
    const backoff = Math.min(
      MAX_BACKOFF_MS,
      this.config.notify.backoffMs * 2 ** (message.attempts - 1),
    );
    const jittered = backoff * (0.8 + Math.random() * 0.4);
    // the last attempt is made when the retry window closes, not after it
    await this.outbox.markRetry(message.id, Math.min(jittered, remainingMs), reason);
    this.metrics.notificationDelivery('retry');
    this.logger.warn(context, 'notification delivery failed; will retry');
  }
}
