import { DynamicModule, Global, Module, ModuleMetadata } from '@nestjs/common';
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
      providers: [IdempotencyRepository, IdempotencyInterceptor],
      exports: [IdempotencyRepository, IdempotencyInterceptor],
    };
  }
}
