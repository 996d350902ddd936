import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { RegistrationRepository } from '../registrations/registration.repository';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';
import { SagaOutcomeReader } from './saga-outcome.reader';

@Global()
@Module({
  providers: [
    IdempotencyRepository,
    // every POST, PATCH, PUT and DELETE of every controller, with nothing to remember per route
    { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
    SagaOutcomeReader,
    RegistrationRepository,
  ],
  exports: [IdempotencyRepository, SagaOutcomeReader],
})
export class IdempotencyModule {}
