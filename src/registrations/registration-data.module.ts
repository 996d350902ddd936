import { Module } from '@nestjs/common';
import { DateSettingsRepository } from './date-settings.repository';
import { RegistrationBatchRepository } from './registration-batch.repository';
import { RegistrationHistoryRepository } from './registration-history.repository';
import { RegistrationRepository } from './registration.repository';
import { SagaRepository } from './saga/saga.repository';
import { WaitlistRepository } from './waitlist.repository';

// The repositories of the registration tables, one per table (or reading concern), with no
// behaviour of their own: shared by the saga, the staff tools and the reconciliation (also in
// the CLI, which must not start the saga's loops).
const REPOSITORIES = [
  RegistrationRepository,
  RegistrationBatchRepository,
  WaitlistRepository,
  DateSettingsRepository,
  RegistrationHistoryRepository,
  SagaRepository,
];

@Module({ providers: REPOSITORIES, exports: REPOSITORIES })
export class RegistrationDataModule {}
