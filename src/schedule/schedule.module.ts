import { Module } from '@nestjs/common';
import { PublicCounterRepository } from './public-counter.repository';
import { ScheduleRepository } from './schedule.repository';

@Module({
  providers: [ScheduleRepository, PublicCounterRepository],
  exports: [ScheduleRepository, PublicCounterRepository],
})
export class ScheduleModule {}
