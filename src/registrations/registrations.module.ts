import { Module, OnModuleInit } from '@nestjs/common';
import { HouseholdsModule } from '../households/households.module';
import { SAGA_OUTCOME_RESOLVER } from '../idempotency/saga-outcome.port';
import { MetricsService } from '../metrics/metrics.service';
import { NotificationOutboxModule } from '../notifications/notification-outbox.module';
import { ScheduleModule } from '../schedule/schedule.module';
import { RegistrationDataModule } from './registration-data.module';
import { RegistrationService } from './registration.service';
import { RegistrationsController } from './registrations.controller';
import { DriftController } from './saga/reconciliation/drift.controller';
import { ReconciliationModule } from './saga/reconciliation/reconciliation.module';
import { CancelSteps } from './saga/batch/cancel.steps';
import { PromoteSteps } from './saga/batch/promote.steps';
import { RegisterSteps } from './saga/batch/register.steps';
import { RecoveryOutcome, RecoveryService } from './saga/recovery.service';
import { ChangeBatch } from './saga/change.batch';
import { ChangeStepsRepository } from './saga/change-steps.repository';
import { CounterStep } from './saga/counter.step';
import { PromotionBatch } from './saga/promotion.batch';
import { RegistrationBatch } from './saga/registration.batch';
import { RegistrationSaga } from './saga/registration.saga';
import { SagaOutcomes } from './saga/saga-outcomes';
import { SagaStepsRepository } from './saga/saga-steps.repository';
import type { SagaKind } from './saga/saga.types';
import { SpecialRequirementsRepository } from './special-requirements.repository';

// Every saga kind and recovery outcome, spelled out so the compiler keeps them complete: the
// metrics start each series at 0, or increase() would miss its first step and the alerts with it.
const SAGA_KINDS = { register: 0, promote: 0, change: 0, cancel: 0 } satisfies Record<SagaKind, 0>;
const RECOVERED = { confirmed: 0, waitlisted: 0, full: 0, released: 0, gone: 0 } satisfies Record<
  Exclude<RecoveryOutcome, 'deferred'>,
  0
>;

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
    RegisterSteps,
    PromoteSteps,
    CancelSteps,
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
export class RegistrationsModule implements OnModuleInit {
  constructor(private readonly metrics: MetricsService) {}

  onModuleInit(): void {
    this.metrics.setSagaLabels({
      kinds: Object.keys(SAGA_KINDS),
      recoveryOutcomes: Object.keys(RECOVERED),
    });
  }
}
