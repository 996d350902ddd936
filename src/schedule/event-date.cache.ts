import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createClient } from 'redis';
import type { Subscription } from 'rxjs';
import { DomainEvents } from '../common/domain-events';
import { closeRedisClient } from '../common/redis-close';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ScheduleService } from './schedule.service';

const MAX_ENTRIES = 5000;

type RedisClient = ReturnType<typeof connect>;

/** One date's answer, serialised once and shared by every reader of the copy. */
export interface EventDateCopy {
  json: string;
  /** a strong validator of `json`, quoted as HTTP wants it */
  etag: string;
}

// GET /api/v1/event-dates/:id is answered from an in-process copy of the date (the serialised
// view and its ETag), shared by all readers for at most SCHEDULE_CACHE_MS (default 1000; 0 turns
// the copy off). Every change this service makes to a date emits an `availability` event after
// commit; it drops the copy here at once and, through Redis pub/sub (when REDIS_URL is set), in
// every other instance within the message's latency. The expiry is the safety net for what no
// event announces: edits the schedule's owner makes in the public database behind our back, a
// message lost while Redis was away, instances without Redis. So a copy is never older than
// the expiry.
// A read in flight belongs to the entry it created: an invalidation deletes the entry, and the
// next reader starts a fresh read that sees the committed change. Real-time pushes never use the
// copy (they read fresh after each change), and a push is sent only after the coalescing wait and
// a database read, so the invalidation (published at commit) reaches other instances first.
@Injectable()
export class EventDateCache implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(EventDateCache.name);
  private readonly entries = new Map<number, { at: number; copy: Promise<EventDateCopy> }>();
  private readonly subscription: Subscription;
  private readonly channel: string;
  private publisher?: RedisClient;
  private subscriber?: RedisClient;

  constructor(
    private readonly schedule: ScheduleService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    events: DomainEvents,
  ) {
    // one deployment's instances share the channel; other deployments on the same Redis do not
    this.channel = `${config.privateDb.database}#event-date-changed`;
    this.subscription = events.stream.subscribe((event) => {
      if (event.type !== 'availability') return;
      this.entries.delete(event.eventDateId);
      this.publish(event.eventDateId);
    });
  }

  onModuleInit(): void {
    if (this.config.redisUrl === undefined || this.config.scheduleCacheMs <= 0) return;
    this.publisher = connect(this.config.redisUrl, 'publish', this.logger);
    const subscriber = connect(this.config.redisUrl, 'subscribe', this.logger);
    this.subscriber = subscriber;
    // messages sent while the subscription was down are lost: start over from the databases
    subscriber.on('ready', () => this.entries.clear());
    // not awaited: boot does not wait for Redis, and the client resubscribes after a reconnect
    subscriber
      .subscribe(this.channel, (message) => {
        const id = Number(message);
        if (Number.isSafeInteger(id)) this.entries.delete(id);
      })
      .catch((error: unknown) =>
        this.logger.warn({ err: error }, 'Redis subscription for date changes failed'),
      );
  }

  async onModuleDestroy(): Promise<void> {
    this.subscription.unsubscribe();
    await Promise.all(
      [this.publisher, this.subscriber]
        .filter((client): client is RedisClient => client !== undefined)
        .map(quit),
    );
  }

  get(id: number): Promise<EventDateCopy> {
    const ttl = this.config.scheduleCacheMs;
    if (ttl <= 0) return this.read(id);
    const now = Date.now();
    const hit = this.entries.get(id);
    if (hit && now - hit.at < ttl) return hit.copy;
    const copy = this.read(id);
    this.entries.set(id, { at: now, copy });
    copy.catch(() => {
      if (this.entries.get(id)?.copy === copy) this.entries.delete(id);
    });
    if (this.entries.size > MAX_ENTRIES) {
      for (const [key, entry] of this.entries) if (now - entry.at >= ttl) this.entries.delete(key);
    }
    return copy;
  }

  private async read(id: number): Promise<EventDateCopy> {
    return copyOf(await this.schedule.getEventDate(id));
  }

  private publish(eventDateId: number): void {
    if (!this.publisher?.isReady) return;
    this.publisher.publish(this.channel, String(eventDateId)).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'Redis publish of a date change failed');
    });
  }
}

export function copyOf(view: unknown): EventDateCopy {
  const json = JSON.stringify(view);
  return { json, etag: etagOf(json) };
}

export function etagOf(json: string): string {
  return `"${createHash('sha1').update(json).digest('base64url')}"`;
}

/** If-None-Match as RFC 9110 reads it: `*`, or a list of tags compared weakly. */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

function connect(url: string, role: 'publish' | 'subscribe', logger: Logger) {
  const client = createClient({
    url,
    // while Redis is away a publish fails at once rather than queue; the expiry covers it
    disableOfflineQueue: role === 'publish',
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  });
  client.on('error', (error: unknown) => {
    logger.warn({ err: error }, `Redis connection to ${role} date changes failed`);
  });
  client.connect().catch(() => undefined);
  return client;
}

/**
 * Closes a client without ever hanging shutdown: one still connecting (Redis unreachable) would
 * wait for ever to send its queued SUBSCRIBE, so it is dropped at once; a connected one gets a
 * second to finish its last commands, then is dropped too.
 */
async function quit(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) {
    client.destroy();
    return;
  }
  await closeRedisClient(client);
}
