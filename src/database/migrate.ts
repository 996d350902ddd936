import { createConnection } from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { DEFAULT_PRIVATE_DB_URL, parseDbUrl, type DbUrl } from '../config/app-config';
import { privateDataSourceOptions } from './data-source-options';
import 'dotenv/config';

// Creates the private database when it is missing and applies the private migrations.
// It never connects to the public database.
export async function createDatabaseIfMissing(db: DbUrl): Promise<void> {
  const connection = await createConnection({
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
  });
  try {
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${db.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await connection.end();
  }
}

export async function migratePrivate(db: DbUrl): Promise<string[]> {
  await createDatabaseIfMissing(db);
  const dataSource = new DataSource(privateDataSourceOptions(db, 2));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await dataSource.destroy();
  }
}

// Lists what the entities would still change in the private schema: empty when every
// entity change has a migration.
export async function pendingSchemaChanges(db: DbUrl): Promise<string[]> {
  const dataSource = new DataSource(privateDataSourceOptions(db, 2));
  await dataSource.initialize();
  try {
    const log = await dataSource.driver.createSchemaBuilder().log();
    return log.upQueries.map((q) => q.query);
  } finally {
    await dataSource.destroy();
  }
}

async function main(): Promise<void> {
  // only the private database's address is needed here, not the server's whole config
  const db = parseDbUrl(
    'PRIVATE_DB_URL',
    process.env.PRIVATE_DB_URL?.trim() || DEFAULT_PRIVATE_DB_URL,
  );
  const applied = await migratePrivate(db);
  console.log(
    applied.length === 0
      ? `Private database ${db.database} is up to date.`
      : `Applied to ${db.database}: ${applied.join(', ')}`,
  );
  if (process.argv.includes('--check')) {
    const pending = await pendingSchemaChanges(db);
    if (pending.length > 0) {
      console.error(`Entities need a migration that has not been written:\n${pending.join(';\n')}`);
      process.exitCode = 1;
    }
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
