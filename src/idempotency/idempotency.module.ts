import { DynamicModule, Global, Module, ModuleMetadata } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { IdempotencyBatcher } from './idempotency.batcher';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyRepository } from './idempotency.repository';

@Global()
@Module({})
export class IdempotencyModule {
  /**
   * `outcomes`: the module that binds SAGA_OUTCOME_RESOLVER (saga-outcome.port.ts); the app
   * passes the registrations module, so this folder never imports it.
   */
  static register(outcomes: NonNullable<ModuleMetadata['imports']>): DynamicModule {
    return {
      module: IdempotencyModule,
      imports: outcomes,
      providers: [
        IdempotencyRepository,
        IdempotencyBatcher,
        // every POST, PATCH, PUT and DELETE of every controller, with nothing to remember per route
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      ],
      exports: [IdempotencyRepository],
    };
  }
}
