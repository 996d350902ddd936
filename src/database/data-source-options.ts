import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DbUrl } from '../config/app-config';
import { PRIVATE_MIGRATIONS_TABLE } from './database.constants';
import { PRIVATE_ENTITIES } from './private/private.entities';
import { PUBLIC_ENTITIES } from './public/public.entities';

function connection(db: DbUrl, poolSize: number) {
  return {
    type: 'mariadb' as const,
    host: db.host,
    port: db.port,
    username: db.user,
    password: db.password,
    database: db.database,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: ['DATE' as const],
    poolSize,
    connectTimeout: 3000,
    synchronize: false,
    migrationsRun: false,
    logging: false as const,
    extra: {
      // fail fast when the pool is exhausted or the server is gone, instead of queueing forever
      connectionLimit: poolSize,
      maxIdle: poolSize,
      enableKeepAlive: true,
    },
  };
}

export function publicDataSourceOptions(db: DbUrl, poolSize: number): DataSourceOptions {
  return { ...connection(db, poolSize), entities: PUBLIC_ENTITIES };
}

export function privateDataSourceOptions(db: DbUrl, poolSize: number): DataSourceOptions {
  return {
    ...connection(db, poolSize),

    entities: PRIVATE_ENTITIES,
    migrations: [join(__dirname, 'migrations', '*.{js,ts}')],
    migrationsTableName: PRIVATE_MIGRATIONS_TABLE,
  };
}
