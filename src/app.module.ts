import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AuthModule } from './auth/auth.module';
import { CommonModule } from './common/common.module';
import { HttpErrorFilter } from './common/http-error.filter';
import { LoggingModule } from './common/logging.module';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { HouseholdsModule } from './households/households.module';
import { MetricsModule } from './metrics/metrics.module';
import { NotificationsModule } from './notifications/notifications.module';
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
    ScheduleModule,
    HouseholdsModule,
    RegistrationsModule,
    SecurityModule,
  ],
  providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
})
export class AppModule {}
