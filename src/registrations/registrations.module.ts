import { Module } from '@nestjs/common';
import { HouseholdsModule } from '../households/households.module';
import { SAGA_OUTCOME_RESOLVER } from '../idempotency/saga-outcome.port';
import { NotificationOutboxModule } from '../notifications/notification-outbox.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { RegistrationDataModule } from './registration-data.module';
import { RegistrationService } from './registration.service';
import { RegistrationsController } from './registrations.controller';
import { DriftController } from './saga/reconciliation/drift.controller';
import { ReconciliationModule } from './saga/reconciliation/reconciliation.module';
import { BatchStepsRepository } from './saga/batch-steps.repository';
import { ChangeBatch } from './saga/change.batch';
import { ChangeStepsRepository } from './saga/change-steps.repository';
import { CounterStep } from './saga/counter.step';
import { PromotionBatch } from './saga/promotion.batch';
import { RecoveryService } from './saga/recovery.service';
import { RegistrationBatch } from './saga/registration.batch';
import { RegistrationSaga } from './saga/registration.saga';
import { SagaOutcomes } from './saga/saga-outcomes';
import { SagaStepsRepository } from './saga/saga-steps.repository';
import { SpecialRequirementsRepository } from './special-requirements.repository';

@Module({
  imports: [
    ScheduleModule,
    HouseholdsModule,
    NotificationOutboxModule,
    RegistrationDataModule,
    ReconciliationModule,
  ],
  controllers: [RegistrationsController, DriftController],
  providers: [
    SagaStepsRepository,
    BatchStepsRepository,
    ChangeStepsRepository,
    SpecialRequirementsRepository,
    RegistrationSaga,
    CounterStep,
    PromotionBatch,
    ChangeBatch,
    RegistrationBatch,
    RegistrationService,
    RecoveryService,
    SagaOutcomes,
    { provide: SAGA_OUTCOME_RESOLVER, useExisting: SagaOutcomes },
  ],
  exports: [RegistrationDataModule, RegistrationService, RecoveryService, SAGA_OUTCOME_RESOLVER],
})
export class RegistrationsModule {}
