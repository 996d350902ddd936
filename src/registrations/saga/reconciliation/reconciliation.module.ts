import { Module } from '@nestjs/common';
import { ScheduleModule } from '../../../schedule/schedule.module';
import { RegistrationDataModule } from '../../registration-data.module';
import { CounterReconciler } from './counter-reconciler';
import { DriftService } from './drift.service';
import { ReconciliationRepository } from './reconciliation.repository';

// What both the server and the ops CLI need to compare and correct counters. The drift route
// (DriftController) is registered by RegistrationsModule, so the CLI serves nothing.
@Module({
  imports: [ScheduleModule, RegistrationDataModule],
  providers: [ReconciliationRepository, CounterReconciler, DriftService],
  exports: [ReconciliationRepository, CounterReconciler, DriftService],
})
export class ReconciliationModule {}
