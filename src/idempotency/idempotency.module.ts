import { DynamicModule, Global, Module, ModuleMetadata } from '@nestjs/common';
import { IdempotencyBatcher } from './idempotency.batcher';
import { IdempotencyRepository } from './idempotency.repository';
import { IdempotencyService } from './idempotency.service';

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
      // global: the IdempotencyInterceptor of each controller with write routes resolves the
      // service here, whichever module the controller is in
      providers: [IdempotencyRepository, IdempotencyBatcher, IdempotencyService],
      exports: [IdempotencyRepository, IdempotencyService],
    };
  }
}
