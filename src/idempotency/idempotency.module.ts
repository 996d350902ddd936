import { Global, Module } from '@nestjs/common';
import { RegistrationRepository } from '../registrations/registration.repository';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';
import { SagaOutcomeReader } from './saga-outcome.reader';

@Global()
@Module({
  providers: [
    IdempotencyRepository,
    IdempotencyInterceptor,
    SagaOutcomeReader,
    RegistrationRepository,
  ],
  exports: [IdempotencyRepository, IdempotencyInterceptor, SagaOutcomeReader],
})
export class IdempotencyModule {}
