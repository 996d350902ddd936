import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { isDuplicateKey, translatePrivateError } from '../database/db-errors';
import type { Queryable } from '../database/sql';

export interface StoredKey {
  requestHash: string;
  state: 'in_flight' | 'done';
  statusCode: number | null;
  responseBody: string | null;
  sagaId: string | null;
  sagaState: string | null;
  lockExpired: boolean;
  expired: boolean;
}

/** How long an answered key is kept (the contract asks for at least 24 hours). */
export const KEEP_HOURS = 48;
/** How long a request may hold its key before another may take it over. */
const LOCK_SECONDS = 120;

// Idempotency keys live in the private database so every instance sees them.
@Injectable()
export class IdempotencyRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  /** True when this request now owns the key; false when a row already exists. */
  async claim(scope: string, requestHash: string): Promise<boolean> {
    return translatePrivateError(async () => {
      try {
        await this.db.query(
          `INSERT INTO idempotency_keys (scope_hash, request_hash, state, locked_until, expires_at)
           VALUES (?, ?, 'in_flight', NOW(6) + INTERVAL ? SECOND, NOW(6) + INTERVAL ? HOUR)`,
          [scope, requestHash, LOCK_SECONDS, KEEP_HOURS],
        );
        return true;
      } catch (error) {
        if (isDuplicateKey(error)) return false;
        throw error;
      }
    });
  }

  async find(scope: string): Promise<StoredKey | undefined> {
    const rows = await translatePrivateError(() =>
      this.db.query<
        {
          request_hash: string;
          state: 'in_flight' | 'done';
          status_code: number | null;
          response_body: string | null;
          saga_id: string | null;
          saga_state: string | null;
          lock_expired: number | string;
          expired: number | string;
        }[]
      >(
        `SELECT k.request_hash, k.state, k.status_code, k.response_body, k.saga_id, s.state AS saga_state,
                (k.locked_until < NOW(6)) AS lock_expired, (k.expires_at < NOW(6)) AS expired
           FROM idempotency_keys k LEFT JOIN registration_sagas s ON s.id = k.saga_id
          WHERE k.scope_hash = ?`,
        [scope],
      ),
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      requestHash: row.request_hash,
      state: row.state,
      statusCode: row.status_code,
      responseBody: row.response_body,
      sagaId: row.saga_id === null ? null : String(row.saga_id),
      sagaState: row.saga_state,
      lockExpired: Number(row.lock_expired) === 1,
      expired: Number(row.expired) === 1,
    };
  }

  /** The key's request started this saga: a retry is answered with the saga's outcome. */
  async attachSaga(m: Queryable, scope: string, sagaId: string): Promise<void> {
    await m.query('UPDATE idempotency_keys SET saga_id = ? WHERE scope_hash = ?', [sagaId, scope]);
  }

  /** Recovery superseded a saga: keys that pointed at it point at its successor. */
  async moveSaga(m: Queryable, from: string, to: string): Promise<void> {
    await m.query('UPDATE idempotency_keys SET saga_id = ? WHERE saga_id = ?', [to, from]);
  }

  /** Takes over a key whose request died before it started any saga. */
  async takeOver(scope: string): Promise<boolean> {
    const result = await translatePrivateError(() =>
      this.db.query<unknown>(
        `UPDATE idempotency_keys SET locked_until = NOW(6) + INTERVAL ? SECOND
          WHERE scope_hash = ? AND state = 'in_flight' AND saga_id IS NULL AND locked_until < NOW(6)`,
        [LOCK_SECONDS, scope],
      ),
    );
    return ((result as { affectedRows?: number }).affectedRows ?? 0) === 1;
  }

  async removeExpired(scope: string): Promise<void> {
    await translatePrivateError(() =>
      this.db.query('DELETE FROM idempotency_keys WHERE scope_hash = ? AND expires_at < NOW(6)', [
        scope,
      ]),
    );
  }

  async complete(scope: string, statusCode: number, body: string): Promise<void> {
    await translatePrivateError(() =>
      this.db.query(
        "UPDATE idempotency_keys SET state = 'done', status_code = ?, response_body = ? WHERE scope_hash = ?",
        [statusCode, body, scope],
      ),
    );
  }

  /**
   * A 5xx is not stored: the retry runs again, unless a saga it started did not fail. Then the
   * saga's outcome answers the retry (once recovery has finished it, if it is still running),
   * since running it again would refuse a registration the first request did make.
   */
  async release(scope: string): Promise<void> {
    await translatePrivateError(() =>
      this.db.query(
        `DELETE k FROM idempotency_keys k LEFT JOIN registration_sagas s ON s.id = k.saga_id
          WHERE k.scope_hash = ? AND k.state = 'in_flight' AND (k.saga_id IS NULL OR s.state = 'failed')`,
        [scope],
      ),
    );
  }

  async purgeExpired(): Promise<number> {
    const result = await translatePrivateError(() =>
      this.db.query<unknown>('DELETE FROM idempotency_keys WHERE expires_at < NOW(6) LIMIT 1000'),
    );
    return (result as { affectedRows?: number }).affectedRows ?? 0;
  }
}
