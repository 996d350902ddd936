import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError, withLockRetry } from '../database/db-errors';
import { affectedRows, caseOf, privateTransaction, Queryable } from '../database/sql';

export interface StoredKey {
  requestHash: string;
  state: 'in_flight' | 'done';
  statusCode: number | null;
  responseBody: string | null;
  sagaId: string | null;
  sagaState: string | null;
  /** seconds until the saga's lease is over (negative once it is) */
  sagaLeaseLeft: number | null;
  /** the request holding the key renews this lease while it runs: expired means it died */
  lockExpired: boolean;
  expired: boolean;
}

/** A request's claim on its key: `requestHash` tells a reuse with another body. */
export interface KeyClaim {
  scope: string;
  requestHash: string;
}

/** What a finished request answered, stored on its key and replayed to its retries. */
export interface KeyAnswer {
  scope: string;
  statusCode: number;
  body: string;
}

/** How long an answered key is kept (the contract asks for at least 24 hours). */
export const KEEP_HOURS = 48;
const CLAIMED_ROW = "(?, ?, 'in_flight', NOW(6) + INTERVAL ? SECOND, NOW(6) + INTERVAL ? HOUR)";

// Idempotency keys live in the private database so every instance sees them.
@Injectable()
export class IdempotencyRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  /**
   * Claims many keys in one statement, each for `leaseSeconds` (renewed by `renewMany` while its
   * request runs): the scopes now owned by their requests. A scope left out had a row already.
   * INSERT IGNORE skips those rows and RETURNING lists only the rows it inserted (MariaDB 10.5+).
   * Rows go in key order (the order an IN list on the key locks them in too), so two instances
   * claiming overlapping keys wait for each other rather than deadlock; a deadlock rolls the whole
   * statement back, so it is simply run again. `claims` has each scope once.
   */
  async claimMany(claims: readonly KeyClaim[], leaseSeconds: number): Promise<Set<string>> {
    const sorted = [...claims].sort((a, b) => (a.scope < b.scope ? -1 : 1));
    const rows = await translatePrivateError(() =>
      withLockRetry(() =>
        this.db.query<{ scope_hash: string }[]>(
          `INSERT IGNORE INTO idempotency_keys (scope_hash, request_hash, state, locked_until, expires_at)
           VALUES ${sorted.map(() => CLAIMED_ROW).join(', ')}
           RETURNING scope_hash`,
          sorted.flatMap((c) => [c.scope, c.requestHash, leaseSeconds, KEEP_HOURS]),
        ),
      ),
    );
    return new Set(rows.map((r) => r.scope_hash));
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
          saga_lease_left: number | string | null;
          lock_expired: number | string;
          expired: number | string;
        }[]
      >(
        `SELECT k.request_hash, k.state, k.status_code, k.response_body, k.saga_id, s.state AS saga_state,
                TIMESTAMPDIFF(MICROSECOND, NOW(6), s.lease_until) / 1e6 AS saga_lease_left,
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
      sagaLeaseLeft: row.saga_lease_left === null ? null : Number(row.saga_lease_left),
      lockExpired: Number(row.lock_expired) === 1,
      expired: Number(row.expired) === 1,
    };
  }

  /** The key's request started this saga: a retry is answered with the saga's outcome. */
  async attachSaga(m: Queryable, scope: string, sagaId: string): Promise<void> {
    await this.attachSagas(m, [[scope, sagaId]]);
  }

  /** Each key (scope) points at its own saga, in one statement; sagas without a key are skipped. */
  async attachSagas(
    m: Queryable,
    pairs: [scope: string | undefined, sagaId: string][],
  ): Promise<void> {
    const keyed = pairs.filter((p): p is [string, string] => p[0] !== undefined);
    if (keyed.length === 0) return;
    const link = caseOf('scope_hash', keyed);
    await m.query(`UPDATE idempotency_keys SET saga_id = ${link.sql} WHERE scope_hash IN (?)`, [
      ...link.params,
      keyed.map(([scope]) => scope),
    ]);
  }

  /** Recovery superseded a saga: keys that pointed at it point at its successor. */
  async moveSaga(m: Queryable, from: string, to: string): Promise<void> {
    await m.query('UPDATE idempotency_keys SET saga_id = ? WHERE saga_id = ?', [to, from]);
  }

  /**
   * Takes over a key whose request died (its lease ran out) having started nothing that is
   * still to be answered: no saga, or a saga that failed and so holds nothing. The retry then
   * runs again. `sagaId` is the saga the caller saw on the key (null: none); the key is taken
   * over only if it still points there.
   *
   * Lock order: saga row, then key row, as everything else that writes both (a saga's step 1
   * inserts the saga then links the key; recovery's supersede locks the saga then moves the
   * key). Locking the key first and the saga through a join, as a single UPDATE ... JOIN does,
   * deadlocked with a supersede running at the same moment (a 500 on the retry).
   */
  async takeOver(scope: string, sagaId: string | null, leaseSeconds: number): Promise<boolean> {
    return privateTransaction(this.db, async (m) => {
      if (sagaId !== null) {
        // shared: a concurrent supersede (which holds it exclusively) finishes first
        const [saga] = await m.query<{ state: string }[]>(
          'SELECT state FROM registration_sagas WHERE id = ? LOCK IN SHARE MODE',
          [sagaId],
        );
        if (saga?.state !== 'failed') return false;
      }
      const result = await m.query<unknown>(
        `UPDATE idempotency_keys SET locked_until = NOW(6) + INTERVAL ? SECOND, saga_id = NULL
          WHERE scope_hash = ? AND state = 'in_flight' AND locked_until < NOW(6)
            AND saga_id ${sagaId === null ? 'IS NULL' : '= ?'}`,
        sagaId === null ? [leaseSeconds, scope] : [leaseSeconds, scope, sagaId],
      );
      return affectedRows(result) === 1;
    });
  }

  /** The running requests still hold these keys (called while they run). */
  async renewMany(scopes: readonly string[], leaseSeconds: number): Promise<void> {
    await translatePrivateError(() =>
      this.db.query(
        `UPDATE idempotency_keys SET locked_until = NOW(6) + INTERVAL ? SECOND
          WHERE scope_hash IN (?) AND state = 'in_flight'`,
        [leaseSeconds, scopes],
      ),
    );
  }

  async removeExpired(scope: string): Promise<void> {
    await translatePrivateError(() =>
      this.db.query('DELETE FROM idempotency_keys WHERE scope_hash = ? AND expires_at < NOW(6)', [
        scope,
      ]),
    );
  }

  /** Stores the answers of many keys in one statement (run again on a deadlock, as claimMany). */
  async completeMany(answers: readonly KeyAnswer[]): Promise<void> {
    const cases = answers.map(() => 'WHEN ? THEN ?').join(' ');
    await translatePrivateError(() =>
      withLockRetry(() =>
        this.db.query(
          `UPDATE idempotency_keys SET state = 'done',
                  status_code = CASE scope_hash ${cases} END,
                  response_body = CASE scope_hash ${cases} END
            WHERE scope_hash IN (?)`,
          [
            ...answers.flatMap((a) => [a.scope, a.statusCode]),
            ...answers.flatMap((a) => [a.scope, a.body]),
            answers.map((a) => a.scope),
          ],
        ),
      ),
    );
  }

  /**
   * A 5xx is not stored: the retry runs again, unless a saga it started did not fail. Then the
   * saga's outcome answers the retry (once recovery has finished it, if it is still running),
   * since running it again would refuse a registration the first request did make. The kept key
   * is let go at once: this request is over, so a retry is never told it is still running.
   */
  async release(scope: string): Promise<void> {
    await translatePrivateError(async () => {
      await this.db.query(
        `DELETE k FROM idempotency_keys k LEFT JOIN registration_sagas s ON s.id = k.saga_id
          WHERE k.scope_hash = ? AND k.state = 'in_flight' AND (k.saga_id IS NULL OR s.state = 'failed')`,
        [scope],
      );
      await this.db.query(
        `UPDATE idempotency_keys SET locked_until = NOW(6) - INTERVAL 1 SECOND
          WHERE scope_hash = ? AND state = 'in_flight'`,
        [scope],
      );
    });
  }

  async purgeExpired(): Promise<number> {
    const result = await translatePrivateError(() =>
      this.db.query<unknown>('DELETE FROM idempotency_keys WHERE expires_at < NOW(6) LIMIT 1000'),
    );
    return affectedRows(result);
  }
}
