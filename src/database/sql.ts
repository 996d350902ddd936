import type { DataSource, EntityManager } from 'typeorm';
import { translatePrivateError, withLockRetry } from './db-errors';

/**
 * What a repository method runs its SQL on: the DataSource (autocommit) or the EntityManager of
 * a transaction someone else opened. Repositories take it as their first argument so a saga
 * step can compose several of them inside ONE transaction.
 */
export type Queryable = Pick<EntityManager, 'query'>;

/** Rows changed by an INSERT/UPDATE/DELETE, whichever shape the driver returned. */
export function affectedRows(result: unknown): number {
  const r = result as { affectedRows?: number } | [unknown, number] | undefined;
  if (Array.isArray(r)) return Number(r[1] ?? 0);
  return r?.affectedRows ?? 0;
}

/** The id an INSERT produced. */
export function insertId(result: unknown): string {
  return String((result as { insertId: number | string }).insertId);
}

/** `CASE column WHEN ? THEN ? ... END`: a per-row value in one multi-row UPDATE. */
export function caseOf(
  column: string,
  pairs: [string, unknown][],
): { sql: string; params: unknown[] } {
  return {
    sql: `CASE ${column} ${pairs.map(() => 'WHEN ? THEN ?').join(' ')} END`,
    params: pairs.flat(),
  };
}

/**
 * One private transaction: retried on a deadlock or lock wait timeout, and an unreachable
 * database becomes 503 SERVICE_UNAVAILABLE. READ COMMITTED (the group commit's steps): a read
 * after a lock sees what the lock's previous holder committed.
 */
export function privateTransaction<T>(
  db: DataSource,
  work: (m: EntityManager) => Promise<T>,
  isolation?: 'READ COMMITTED',
): Promise<T> {
  return translatePrivateError(() =>
    withLockRetry(() => (isolation ? db.transaction(isolation, work) : db.transaction(work))),
  );
}
