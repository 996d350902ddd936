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

/**
 * One private transaction: retried on a deadlock or lock wait timeout, and an unreachable
 * database becomes 503 SERVICE_UNAVAILABLE.
 */
export function privateTransaction<T>(
  db: DataSource,
  work: (m: EntityManager) => Promise<T>,
): Promise<T> {
  return translatePrivateError(() => withLockRetry(() => db.transaction(work)));
}
