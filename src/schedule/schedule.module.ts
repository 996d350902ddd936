import { Module } from '@nestjs/common';
import { AvailabilityRepository } from './availability.repository';
import { EventDateCache } from './event-date.cache';
import { PublicCounterRepository } from './public-counter.repository';
import { ScheduleController } from './schedule.controller';
import { ScheduleRepository } from './schedule.repository';
import { ScheduleService } from './schedule.service';

@Module({
  controllers: [ScheduleController],
  providers: [
    ScheduleRepository,
    PublicCounterRepository,
    AvailabilityRepository,
    ScheduleService,
    EventDateCache,
  ],
  exports: [ScheduleRepository, PublicCounterRepository, AvailabilityRepository, ScheduleService],
})
export class ScheduleModule {}
