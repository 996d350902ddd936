import type { AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sign } from 'jsonwebtoken';
import { AppModule } from '../../src/app.module';
import { configureApp, fastifyAdapter } from '../../src/bootstrap';
import { APP_CONFIG, AppConfig, loadConfig } from '../../src/config/app-config';
import { createTestDatabases, TestDatabases } from './databases';
import { seedDimTimes } from './schedule-fixture';

export const TEST_SECRET = 'test-secret-of-at-least-16-chars';

export interface TestContext {
  app: NestFastifyApplication;
  dbs: TestDatabases;
  config: AppConfig;
  /** the HTTP server for supertest */
  http: ReturnType<NestFastifyApplication['getHttpServer']>;
  /** Listens on a free port of 127.0.0.1 and returns the base URL (for socket.io clients). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export function testEnv(
  dbs: TestDatabases,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    PUBLIC_DB_URL: dbs.publicUrl,
    PRIVATE_DB_URL: dbs.privateUrl,
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'silent',
    RECOVERY_INTERVAL_MS: '0',
    RATE_LIMIT_WRITES_PER_MINUTE: '100000',
    RATE_LIMIT_READS_PER_MINUTE: '100000',
    ...extra,
  };
}

/** The real app on fresh databases (dim_times seeded). `env` overrides configuration. */
export async function createTestApp(
  env: Record<string, string> = {},
  dbs?: TestDatabases,
): Promise<TestContext> {
  const databases = dbs ?? (await createTestDatabases());
  if (!dbs) await seedDimTimes(databases.publicSql);
  const config = loadConfig(testEnv(databases, env));
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(APP_CONFIG)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(fastifyAdapter(config), {
    bodyParser: false,
    logger: false,
  });
  await configureApp(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    dbs: databases,
    config,
    http: app.getHttpServer(),
    async listen() {
      await app.listen(0, '127.0.0.1');
      return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    },
    async close() {
      await app.close();
      if (!dbs) await databases.drop();
    },
  };
}

export function token(
  sub: string,
  roles: string[] = ['participant'],
  options: { secret?: string; expiresIn?: number } = {},
): string {
  return sign({ sub, roles }, options.secret ?? TEST_SECRET, {
    algorithm: 'HS256',
    expiresIn: options.expiresIn ?? 3600,
  });
}

export const bearer = (sub: string, roles?: string[]) => `Bearer ${token(sub, roles)}`;
