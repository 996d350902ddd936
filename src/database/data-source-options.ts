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
function mysql2WithSession(sessionSql: string) {
  return {
    ...mysql2,
    createPool(options: mysql2.PoolOptions) {
      const pool = mysql2.createPool(options);
      pool.on('connection', (connection) => {
        connection.query(sessionSql);
      });
      return pool;
    },
  };
}

const UTC = "SET time_zone = '+00:00'";
// A public counter statement never waits long for a row lock: a saga step must finish well
// inside its lease (SAGA_GRACE_SECONDS), or recovery could take over a step still running.
const PUBLIC_SESSION = `${UTC}, innodb_lock_wait_timeout = 5`;

function connection(db: DbUrl, poolSize: number, sessionSql: string) {
  return {
    type: 'mariadb' as const,
    driver: mysql2WithSession(sessionSql),
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
  return { ...connection(db, poolSize, PUBLIC_SESSION), entities: PUBLIC_ENTITIES };
}

export function privateDataSourceOptions(db: DbUrl, poolSize: number): DataSourceOptions {
  return {
    ...connection(db, poolSize, UTC),

    entities: PRIVATE_ENTITIES,
    migrations: [join(__dirname, 'migrations', '*.{js,ts}')],
    migrationsTableName: PRIVATE_MIGRATIONS_TABLE,
  };
}
