import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getOptionsToken, getStorageToken } from '@nestjs/throttler';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { InProcessThrottlerStorage } from './in-process-throttler.storage';
import { RateLimitGuard, rateLimitOptions } from './rate-limit.guard';
import { RedisThrottlerStorage } from './redis-throttler.storage';

// Rate limits for every HTTP route (health, metrics and docs excepted). Counts live in Redis
// when REDIS_URL is set, so all instances share them; in this process otherwise, counted the
// same way (a fixed window per key).
@Module({
  providers: [
    RedisThrottlerStorage,
    InProcessThrottlerStorage,
    { provide: getOptionsToken(), useFactory: rateLimitOptions, inject: [APP_CONFIG] },
    {
      provide: getStorageToken(),
      useFactory: (
        config: AppConfig,
        redis: RedisThrottlerStorage,
        memory: InProcessThrottlerStorage,
      ) => (config.redisUrl === undefined ? memory : redis),
      inject: [APP_CONFIG, RedisThrottlerStorage, InProcessThrottlerStorage],
    },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class SecurityModule {}
