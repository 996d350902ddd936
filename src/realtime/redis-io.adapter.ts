import { INestApplicationContext, Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server, ServerOptions } from 'socket.io';
import { ClosableRedisClient, closeRedisClient } from '../common/redis-close';
import type { AppConfig } from '../config/app-config';

// socket.io for this app. With REDIS_URL, broadcasts go through Redis pub/sub so a room's
// clients on every instance receive what any instance emits; without it they stay in process.
// The channel is keyed by the private database name: instances of one deployment share it,
// other deployments (or test runs) on the same Redis do not hear each other.
export class RedisIoAdapter extends IoAdapter {
  private readonly logger = new Logger(RedisIoAdapter.name);
  private readonly clients: ClosableRedisClient[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const cors =
      this.config.corsOrigins.length > 0 ? { origin: this.config.corsOrigins } : undefined;
    // node:cluster hands each HTTP request to any worker, so long-polling (several requests per
    // session) cannot work across workers: with more than one, clients must use WebSocket
    const transports = this.config.workers > 1 ? { transports: ['websocket' as const] } : {};
    const server = super.createIOServer(port, {
      ...options,
      ...(cors ? { cors } : {}),
      ...transports,
    }) as Server;
    if (this.config.redisUrl !== undefined) {
      const pub = this.connect(this.config.redisUrl);
      const sub = this.connect(this.config.redisUrl);
      server.adapter(
        createAdapter(pub, sub, { key: `${this.config.privateDb.database}#socket.io` }),
      );
    }
    return server;
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    // let the adapter's last commands finish; an unreachable Redis is dropped after a second
    await Promise.all(this.clients.splice(0).map(closeRedisClient));
  }

  private connect(url: string) {
    const client = createClient({
      url,
      socket: {
        connectTimeout: 2000,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
      },
    });
    // without a listener an unreachable Redis would crash the process; readiness reports it
    client.on('error', (error: unknown) => {
      this.logger.warn({ err: error }, 'Redis connection for real-time events failed');
    });
    // commands issued while connecting are queued until the connection is ready
    client.connect().catch(() => undefined);
    this.clients.push(client);
    return client;
  }
}
