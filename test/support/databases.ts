import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection, Connection } from 'mysql2/promise';
import { migratePrivate } from '../../src/database/migrate';
import type { DbUrl } from '../../src/config/app-config';

const SERVER = {
  host: process.env.TEST_DB_HOST ?? '127.0.0.1',
  port: Number(process.env.TEST_DB_PORT ?? 3306),
  user: process.env.TEST_DB_USER ?? 'root',
  password: process.env.TEST_DB_PASSWORD ?? '',
};

export interface TestDatabases {
  publicDb: DbUrl;
  privateDb: DbUrl;
  publicUrl: string;
  privateUrl: string;
  /** a connection to the public database, for fixtures and for tampering with counters */
  publicSql: Connection;
  /** a connection to the private database, for assertions */
  privateSql: Connection;
  drop(): Promise<void>;
}

function url(db: DbUrl): string {
  const auth = db.password ? `${db.user}:${encodeURIComponent(db.password)}` : db.user;
  return `mysql://${auth}@${db.host}:${db.port}/${db.database}`;
}

/** A uniquely named public and private database pair: public schema loaded, private migrated. */
export async function createTestDatabases(): Promise<TestDatabases> {
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const publicDb: DbUrl = { ...SERVER, database: `ft_test_${suffix}_pub` };
  const privateDb: DbUrl = { ...SERVER, database: `ft_test_${suffix}_priv` };
  const admin = await createConnection({ ...SERVER, multipleStatements: true });
  await admin.query(
    `CREATE DATABASE \`${publicDb.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  );
  await admin.query(`USE \`${publicDb.database}\``);
  await admin.query(readFileSync(join(__dirname, '../../db/public/schema.sql'), 'utf8'));
  await admin.end();
  await migratePrivate(privateDb);
  const publicSql = await createConnection({
    ...SERVER,
    database: publicDb.database,
    timezone: 'Z',
    dateStrings: ['DATE'],
  });
  const privateSql = await createConnection({
    ...SERVER,
    database: privateDb.database,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: ['DATE'],
  });
  return {
    publicDb,
    privateDb,
    publicUrl: url(publicDb),
    privateUrl: url(privateDb),
    publicSql,
    privateSql,
    async drop() {
      await publicSql.end().catch(() => undefined);
      await privateSql.end().catch(() => undefined);
      const conn = await createConnection(SERVER);
      await conn.query(`DROP DATABASE IF EXISTS \`${publicDb.database}\``);
      await conn.query(`DROP DATABASE IF EXISTS \`${privateDb.database}\``);
      await conn.end();
    },
  };
}
