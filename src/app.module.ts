import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { CommonModule } from './common/common.module';
import { HttpErrorFilter } from './common/http-error.filter';
import { LoggingModule } from './common/logging.module';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IdempotencyModule } from './idempotency/idempotency.module';
import { HouseholdsModule } from './households/households.module';
import { MetricsModule } from './metrics/metrics.module';
import { NotificationsModule } from './notifications/notifications.module';
import { RealtimeModule } from './realtime/realtime.module';
import { RegistrationsModule } from './registrations/registrations.module';
import { ScheduleModule } from './schedule/schedule.module';
import { SecurityModule } from './security/security.module';

@Module({
  imports: [
    AppConfigModule,
    LoggingModule,
    CommonModule,
    DatabaseModule,
    AuthModule,
    HealthModule,
    MetricsModule,
    NotificationsModule,
    RealtimeModule,
    ScheduleModule,
    HouseholdsModule,
    // registrations binds the saga outcomes that idempotency's port asks for
    IdempotencyModule.register([RegistrationsModule]),
    RegistrationsModule,
    AdminModule,
    SecurityModule,
  ],
  providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
})
export class AppModule {}
