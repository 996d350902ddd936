import { Module } from '@nestjs/common';
import { HouseholdsModule } from '../households/households.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { RegistrationRepository } from './registration.repository';
import { RegistrationSaga } from './registration.saga';
import { RegistrationService } from './registration.service';
import { RegistrationsController } from './registrations.controller';

@Module({
  imports: [ScheduleModule, HouseholdsModule],
  controllers: [RegistrationsController],
  providers: [RegistrationRepository, RegistrationSaga, RegistrationService],
  exports: [RegistrationRepository, RegistrationSaga, RegistrationService],
})
export class RegistrationsModule {}
