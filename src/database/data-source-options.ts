import { join } from 'node:path';
import * as mysql2 from 'mysql2';
import type { DataSourceOptions } from 'typeorm';
import type { DbUrl } from '../config/app-config';
import { PRIVATE_MIGRATIONS_TABLE } from './database.constants';
import { PRIVATE_ENTITIES } from './private/private.entities';
import { PUBLIC_ENTITIES } from './public/public.entities';

// Every pooled connection runs in UTC, so NOW(6) and the column defaults agree with the
// instants the API prints, whatever the server's own time zone. The listener is attached
// before the pool opens its first connection, so the SET is always the first command.
const utcMysql2 = {
  ...mysql2,
  createPool(options: mysql2.PoolOptions) {
    const pool = mysql2.createPool(options);
    pool.on('connection', (connection) => {
      connection.query("SET time_zone = '+00:00'");
    });
    return pool;
  },
};

function connection(db: DbUrl, poolSize: number) {
  return {
    type: 'mariadb' as const,
    driver: utcMysql2,
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
