import { Module } from '@nestjs/common';
import { HouseholdsModule } from '../households/households.module';
import { NotificationOutboxModule } from '../notifications/notification-outbox.module';
import { RegistrationsModule } from '../registrations/registrations.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { AdminEventDatesController } from './admin-event-dates.controller';
import { AdminEventDatesService } from './admin-event-dates.service';
import { AdminRegistrationsController } from './admin-registrations.controller';
import { AdminRegistrationsService } from './admin-registrations.service';
import { AdminRepository } from './admin.repository';

// Staff tools: role staff or admin on every route (the households' staff routes live in
// HouseholdsModule, the drift report with the saga's reconciliation).
@Module({
  imports: [ScheduleModule, HouseholdsModule, RegistrationsModule, NotificationOutboxModule],
  controllers: [AdminEventDatesController, AdminRegistrationsController],
  providers: [AdminRepository, AdminEventDatesService, AdminRegistrationsService],
})
export class AdminModule {}
