import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getOptionsToken, getStorageToken, ThrottlerStorageService } from '@nestjs/throttler';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { RateLimitGuard, rateLimitOptions } from './rate-limit.guard';
import { RedisThrottlerStorage } from './redis-throttler.storage';

// Rate limits for every HTTP route (health, metrics and docs excepted). Counts live in Redis
// when REDIS_URL is set, so all instances share them; in this process otherwise.
@Module({
  providers: [
    RedisThrottlerStorage,
    ThrottlerStorageService,
    { provide: getOptionsToken(), useFactory: rateLimitOptions, inject: [APP_CONFIG] },
    {
      provide: getStorageToken(),
      useFactory: (
        config: AppConfig,
        redis: RedisThrottlerStorage,
        memory: ThrottlerStorageService,
      ) => (config.redisUrl === undefined ? memory : redis),
      inject: [APP_CONFIG, RedisThrottlerStorage, ThrottlerStorageService],
    },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class SecurityModule {}
