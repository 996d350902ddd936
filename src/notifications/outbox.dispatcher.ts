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

// A round claims up to BATCH households' next messages and POSTs at most CONCURRENCY of them at
// once. The claim takes one message per household, so the batch size does not touch the order
// within a household; a larger one means fewer claims (a read and a four-statement transaction)
// and fewer sent-marks (one statement per round) per message, while CONCURRENCY keeps the
// webhook from seeing more than 20 requests at a time, as before. The price: a webhook that
// hangs holds a round, and a shutdown waiting for it, up to 5 timeouts instead of one.
const BATCH = 100;
const CONCURRENCY = 20;
// a claimed message stays invisible to other dispatchers this long: longer than a whole round,
// whose messages are marked sent only when the last of its ceil(BATCH / CONCURRENCY) waves of
// deliveries has settled
const LEASE_MS = Math.ceil(BATCH / CONCURRENCY) * DELIVERY_TIMEOUT_MS + 25_000;
const MAX_BACKOFF_MS = 5 * 60_000;

// Delivers the outbox, at least once, in order per household, from any number of instances.
// Each round claims due messages (see NotificationOutboxRepository.claimDue), POSTs them to the
// webhook in parallel across households, records each failure as it happens, and once every
// delivery of the round has settled marks all the delivered ones sent in one statement. A
// failed delivery is retried with exponential backoff until NOTIFY_RETRY_FOR_SECONDS after it
// was written, then given up on with its last error. If the process dies mid-round (during a
// delivery, or after it but before the round's sent-mark), the claim's lease runs out and
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
      await this.deliverRound(batch);
      delivered += batch.length;
      if (batch.length < BATCH) break;
    }
    return delivered;
  }

  /**
   * Delivers a claimed round, CONCURRENCY at a time, and settles every delivery before the next
   * claim (or shutdown), even when one fails; then marks the delivered ones sent, together.
   */
  private async deliverRound(batch: OutboxMessage[]): Promise<void> {
    const sent: string[] = [];
    let failure: { error: unknown } | undefined;
    let next = 0;
    const worker = async () => {
      while (next < batch.length) {
        const message = batch[next++];
        try {
          if (await this.deliver(message)) sent.push(message.id);
        } catch (error) {
          // recording the failure failed: the lease brings the message back
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.length) }, worker));
    if (sent.length > 0) {
      await this.outbox.markSentMany(sent);
      // only logged is not sent: a dashboard must not show deliveries that never left the process
      const result = this.config.notify.webhookUrl === undefined ? 'skipped' : 'sent';
      for (let i = 0; i < sent.length; i++) this.metrics.notificationDelivery(result);
    }
    if (failure) throw failure.error;
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

  /** True when delivered (or, with no webhook, logged); false when the failure was recorded. */
  private async deliver(message: OutboxMessage): Promise<boolean> {
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
      return false;
    }
    return true;
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
