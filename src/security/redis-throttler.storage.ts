import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { createClient } from 'redis';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ThrottlerStorageRecord, windowRecord } from './in-process-throttler.storage';

// A fixed window per key, shared by every instance: INCR and the expiry are one Lua call, so
// two instances counting the same key at once can neither lose a hit nor leave a key that never
// expires. The window's remaining time is the Retry-After.
const HIT_SCRIPT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}`;

const CONNECT_WAIT_MS = 2000;

@Injectable()
export class RedisThrottlerStorage
  implements ThrottlerStorage, OnModuleInit, OnApplicationShutdown
{
  private readonly logger = new Logger(RedisThrottlerStorage.name);
  private readonly client?: ReturnType<typeof createClient>;
  private lastWarningAt = 0;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (config.redisUrl === undefined) return;
    this.client = createClient({
      url: config.redisUrl,
      // while Redis is away, fail at once (and let the request through) rather than queue
      disableOfflineQueue: true,
      socket: {
        connectTimeout: CONNECT_WAIT_MS,
        reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000),
      },
    });
    this.client.on('error', (error: unknown) => this.warn('Redis error', error));
  }

  // Nest may call this more than once for this provider (it is also handed to the throttler's
  // async options); connecting twice logged "Socket already opened".
  private connecting?: Promise<void>;

  async onModuleInit(): Promise<void> {
    if (!this.client) return;
    this.connecting ??= this.connect(this.client);
    await this.connecting;
  }

  private async connect(client: NonNullable<RedisThrottlerStorage['client']>): Promise<void> {
    const connected = client.connect().then(
      () => undefined,
      (error: unknown) => this.warn('Redis connection failed', error),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CONNECT_WAIT_MS);
    });
    await Promise.race([connected, timeout]);
    clearTimeout(timer);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client?.isOpen) await this.client.close().catch(() => undefined);
  }

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    if (!this.client?.isReady) return notCounted();
    try {
      const reply = (await this.client.eval(HIT_SCRIPT, {
        keys: [key],
        arguments: [String(ttl)],
      })) as [number, number];
      return windowRecord(Number(reply[0]), Number(reply[1]), limit);
    } catch (error) {
      // a rate limiter that is down must not take the service down with it
      this.warn('Rate limit not counted', error);
      return notCounted();
    }
  }

  private warn(message: string, error: unknown): void {
    if (Date.now() - this.lastWarningAt < 10_000) return;
    this.lastWarningAt = Date.now();
    this.logger.warn(`${message}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function notCounted(): ThrottlerStorageRecord {
  return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
}
