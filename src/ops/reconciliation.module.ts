import { Module } from '@nestjs/common';
import { ScheduleModule } from '../schedule/schedule.module';
import { CounterReconciler } from './counter-reconciler';
import { DriftService } from './drift.service';
import { ReconciliationRepository } from './reconciliation.repository';

// What both the server and the ops CLI need to compare and correct counters.
@Module({
  imports: [ScheduleModule],
  providers: [ReconciliationRepository, CounterReconciler, DriftService],
  exports: [ReconciliationRepository, CounterReconciler, DriftService],
})
export class ReconciliationModule {}
