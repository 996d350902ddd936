import { Module } from '@nestjs/common';
import { HouseholdsModule } from '../households/households.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { RealtimeGateway } from './realtime.gateway';

@Module({
  imports: [ScheduleModule, HouseholdsModule],
  providers: [RealtimeGateway],
})
export class RealtimeModule {}
