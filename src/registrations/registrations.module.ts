import { Module } from '@nestjs/common';
import { HouseholdsModule } from '../households/households.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { RegistrationBatchRepository } from './registration-batch.repository';
import { RegistrationBatch } from './registration.batch';
import { RegistrationRepository } from './registration.repository';
import { RegistrationSaga } from './registration.saga';
import { RegistrationService } from './registration.service';
import { RegistrationsController } from './registrations.controller';

@Module({
  imports: [ScheduleModule, HouseholdsModule],
  controllers: [RegistrationsController],
  providers: [
    RegistrationRepository,
    RegistrationBatchRepository,
    RegistrationSaga,
    RegistrationBatch,
    RegistrationService,
  ],
  exports: [RegistrationRepository, RegistrationSaga, RegistrationService],
})
export class RegistrationsModule {}
