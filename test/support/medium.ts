import { Test, TestingModule } from '@nestjs/testing';
import { CommonModule } from '../../src/common/common.module';
import { APP_CONFIG, AppConfig, loadConfig } from '../../src/config/app-config';
import { AppConfigModule } from '../../src/config/config.module';
import { DatabaseModule } from '../../src/database/database.module';
import { IdempotencyModule } from '../../src/idempotency/idempotency.module';
import { MetricsModule } from '../../src/metrics/metrics.module';
import { RegistrationsModule } from '../../src/registrations/registrations.module';
import { testEnv } from './app';
import type { TestDatabases } from './databases';

/**
 * The registration modules with their real repositories on `dbs`, no HTTP: what a medium test
 * calls directly. `env` overrides configuration.
 */
export async function createMediumModule(
  dbs: TestDatabases,
  env: Record<string, string> = {},
): Promise<{ moduleRef: TestingModule; config: AppConfig }> {
  const config = loadConfig(testEnv(dbs, env));
  const moduleRef = await Test.createTestingModule({
    imports: [
      AppConfigModule,
      CommonModule,
      MetricsModule,
      DatabaseModule,
      IdempotencyModule.register([RegistrationsModule]),
      RegistrationsModule,
    ],
  })
    .overrideProvider(APP_CONFIG)
    .useValue(config)
    .compile();
  return { moduleRef, config };
}
