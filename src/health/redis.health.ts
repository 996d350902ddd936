import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { createClient } from 'redis';
import { APP_CONFIG, AppConfig } from '../config/app-config';

const TIMEOUT_MS = 1500;

// Readiness of Redis, checked only when REDIS_URL is configured. Its own small client, so a
// check never queues behind real-time traffic; without a connection it fails at once.
@Injectable()
export class RedisHealthIndicator implements OnModuleDestroy {
  private client?: ReturnType<typeof createClient>;
  private connected?: Promise<unknown>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly indicators: HealthIndicatorService,
  ) {}

  get configured(): boolean {
    return this.config.redisUrl !== undefined;
  }

  async pingCheck(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    try {
      const ping = this.connection().then((client) => client.ping());
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS);
      });
      await Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
      return indicator.up();
    } catch (error) {
      return indicator.down({
        message: error instanceof Error && error.message === 'timeout' ? 'timeout' : 'unreachable',
      });
    }
  }

  onModuleDestroy(): void {
    if (this.client?.isOpen) this.client.destroy();
  }

  private async connection(): Promise<ReturnType<typeof createClient>> {
    if (!this.client) {
      this.client = createClient({
        url: this.config.redisUrl,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: TIMEOUT_MS,
          reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000),
        },
      });
      this.client.on('error', () => undefined);
      // the first check waits for the connection; later ones fail at once while it is down
      this.connected = this.client.connect();
      this.connected.catch(() => undefined);
    }
    await this.connected;
    return this.client;
  }
}
