import { createHash } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { Response } from 'supertest';
import type { TestDatabases } from '../support/databases';

const PRIVATE_TABLES = [
  'households',
  'accounts',
  'household_members',
  'event_date_settings',
  'event_registrations',
  'event_registration_members',
  'registration_history',
  'registration_sagas',
  'idempotency_keys',
  'notification_outbox',
];
const PUBLIC_TABLES = ['event_dates', 'event_hours', 'event_slots'];

// A fingerprint of each table from an ordinary (consistent) read of its committed rows.
// CHECKSUM TABLE is not one: it can still count rows deleted but not yet purged, so its value
// moved on its own when InnoDB's purge thread caught up after a saga removed a registration.
async function checksums(sql: Connection, tables: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const [rows] = await sql.query<RowDataPacket[]>(`SELECT * FROM \`${table}\``);
    const lines = rows.map((r) => JSON.stringify(r)).sort();
    out[table] = createHash('sha256').update(lines.join('\n')).digest('hex');
  }
  return out;
}

/** A fingerprint of every row the service may write, in both databases. */
export async function snapshot(dbs: TestDatabases): Promise<Record<string, string>> {
  return {
    ...(await checksums(dbs.privateSql, PRIVATE_TABLES)),
    ...(await checksums(dbs.publicSql, PUBLIC_TABLES)),
  };
}

const LEAKS =
  /\bat [\w.<>]+ \(|node_modules|\/src\/|\.ts:\d+|SELECT |INSERT |UPDATE `|ER_[A-Z_]+|sqlMessage|QueryFailedError|TypeError|RangeError/;

/** The contract's error body, and nothing of the server's insides. */
export function expectContractError(res: Response, status?: number, code?: string): void {
  const seen = `${res.status} ${res.text.slice(0, 300)}`;
  if (res.status < 400 || res.status >= 500) throw new Error(`expected a 4xx, got ${seen}`);
  if (status !== undefined && res.status !== status)
    throw new Error(`expected ${status}, got ${seen}`);
  expect(res.body).toEqual(
    expect.objectContaining({
      statusCode: res.status,
      code: code ?? expect.any(String),
      message: expect.any(String),
    }),
  );
  expect(res.text).not.toMatch(LEAKS);
  expect(res.headers['x-powered-by']).toBeUndefined();
}
