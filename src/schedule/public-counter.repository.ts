import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryRunner } from 'typeorm';
import { PUBLIC_DB } from '../database/database.constants';
import { isConnectionError, scheduleUnavailable, withLockRetry } from '../database/db-errors';
import { affectedRows } from '../database/sql';
import { CounterTarget } from './schedule.types';

export type CounterLevel = 'slot' | 'hour' | 'date';

export interface CounterKey {
  level: CounterLevel;
  id: number;
}

export interface CounterRow extends CounterKey {
  capacity: number;
  reserved: number;
}

/** One request of a batch on the public counters: these counters, by this many spots. */
export interface CounterClaim {
  keys: CounterKey[];
  spots: number;
}

/** The COMMIT of a counter change was sent but its result never came back. */
export class CounterOutcomeUnknownError extends Error {
  constructor(cause: unknown) {
    super(`outcome of the public counter commit is unknown: ${String(cause)}`);
  }
}

const TABLE: Record<CounterLevel, { table: string; key: string }> = {
  slot: { table: 'event_slots', key: 'event_slot_id' },
  hour: { table: 'event_hours', key: 'event_hour_id' },
  date: { table: 'event_dates', key: 'event_date_id' },
};

const LEVEL_ORDER: Record<CounterLevel, number> = { slot: 0, hour: 1, date: 2 };

/** The counters a target occupies, in the one lock order every writer uses: slot, hour, date. */
export function countersOf(target: CounterTarget): CounterKey[] {
  const keys: CounterKey[] = [];
  if (target.eventSlotId !== null) keys.push({ level: 'slot', id: target.eventSlotId });
  if (target.eventSlotId !== null && target.eventHourId !== null) {
    keys.push({ level: 'hour', id: target.eventHourId });
  }
  keys.push({ level: 'date', id: target.eventDateId });
  return keys;
}

/** The counters of `a` that are not counters of `b`, in lock order. */
export function countersOnlyIn(a: CounterTarget, b: CounterTarget): CounterKey[] {
  const inB = new Set(countersOf(b).map((k) => `${k.level}:${k.id}`));
  return countersOf(a).filter((k) => !inB.has(`${k.level}:${k.id}`));
}

export function sortCounters(keys: CounterKey[]): CounterKey[] {
  const unique = new Map<string, CounterKey>();
  for (const key of keys) unique.set(`${key.level}:${key.id}`, key);
  return [...unique.values()].sort(
    (a, b) => LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level] || a.id - b.id,
  );
}

// The only writer of the public database: the `reserved` counters of slots, hours and dates.
// Capacity is taken by one conditional increment per counter, never read-then-write, all in
// one transaction in the fixed order slot, hour, date so concurrent writers cannot deadlock.
@Injectable()
export class PublicCounterRepository {
  constructor(@InjectDataSource(PUBLIC_DB) private readonly db: DataSource) {}

  /**
   * Takes n spots on every counter of the target, or none; false when any is full. One
   * conditional UPDATE over the slot, hour and date rows (in that order): it checks and takes all
   * three atomically, and since it runs in autocommit the row locks are held for a single round
   * trip. No counter is ever read and written back.
   */
  async take(target: CounterTarget, n: number): Promise<boolean> {
    return this.takeKeys(countersOf(target), n);
  }

  /** The same for an explicit set of counters (a move takes only the ones it newly occupies). */
  async takeKeys(keys: CounterKey[], n: number): Promise<boolean> {
    if (n <= 0 || keys.length === 0) return true;
    const { sql, params } = counterUpdate(keys, n, true);
    const result = await this.autocommit(sql, params);
    return affectedRows(result) === keys.length;
  }

  /** Gives n spots back on every counter of the target, in one statement. */
  async release(target: CounterTarget, n: number): Promise<void> {
    await this.releaseKeys(countersOf(target), n);
  }

  async releaseKeys(keys: CounterKey[], n: number): Promise<void> {
    if (n <= 0 || keys.length === 0) return;
    const { sql, params } = counterUpdate(keys, -n, false);
    await this.autocommit(sql, params);
  }

  /**
   * The public step of a batch: one short transaction that locks every counter the claims touch
   * (FOR UPDATE, in lock order), grants the claims in order while all of a claim's counters have
   * room (first fit: a claim that does not fit is passed over and does not block the ones after
   * it), and moves each counter by the sum granted on it. The decision is made under the rows'
   * locks, and each UPDATE still carries the capacity condition, so the database enforces
   * capacity even if this arithmetic were wrong. Returns, per claim, whether it was granted.
   * A single claim (a batch of one) is the one conditional UPDATE of takeKeys instead.
   */
  async allocate(claims: CounterClaim[]): Promise<boolean[]> {
    if (claims.every((c) => c.spots <= 0 || c.keys.length === 0)) return claims.map(() => true);
    if (claims.length === 1) return [await this.takeKeys(claims[0].keys, claims[0].spots)];
    return this.inTransaction(async (runner) => {
      const rows = await lockCounters(
        runner,
        claims.flatMap((c) => c.keys),
      );
      const room = new Map(rows.map((r) => [keyOf(r), r.capacity - r.reserved]));
      const taken = new Map<string, number>();
      const granted = claims.map((claim) => {
        if (claim.spots <= 0 || claim.keys.length === 0) return true;
        if (claim.keys.some((k) => (room.get(keyOf(k)) ?? -Infinity) < claim.spots)) return false;
        for (const k of claim.keys) {
          room.set(keyOf(k), room.get(keyOf(k))! - claim.spots);
          taken.set(keyOf(k), (taken.get(keyOf(k)) ?? 0) + claim.spots);
        }
        return true;
      });
      for (const row of rows) {
        const n = taken.get(keyOf(row)) ?? 0;
        if (n === 0) continue;
        const { table, key: column } = TABLE[row.level];
        const result = (await runner.query(
          `UPDATE ${table} SET reserved = reserved + ? WHERE ${column} = ? AND reserved + ? <= capacity`,
          [n, row.id, n],
        )) as unknown;
        if (affectedRows(result) !== 1) {
          throw new Error(`counter ${keyOf(row)} refused ${n} spots under its own lock`);
        }
      }
      return granted;
    });
  }

  /** Gives back the sum of several releases, each counter once, in one transaction. */
  async releaseAll(releases: CounterClaim[]): Promise<void> {
    const sums = new Map<string, { key: CounterKey; n: number }>();
    for (const r of releases) {
      if (r.spots <= 0) continue;
      for (const k of r.keys) {
        const entry = sums.get(keyOf(k)) ?? { key: k, n: 0 };
        entry.n += r.spots;
        sums.set(keyOf(k), entry);
      }
    }
    if (sums.size === 0) return;
    const ordered = sortCounters([...sums.values()].map((e) => e.key));
    if (ordered.length <= 3 && new Set(ordered.map((k) => k.level)).size === ordered.length) {
      // one slot, hour and date (the common case): the single joined UPDATE, in autocommit
      const n = ordered.map((k) => sums.get(keyOf(k))!.n);
      if (n.every((x) => x === n[0])) return this.releaseKeys(ordered, n[0]);
    }
    await this.inTransaction(async (runner) => {
      for (const key of ordered) {
        const { table, key: column } = TABLE[key.level];
        await runner.query(`UPDATE ${table} SET reserved = reserved - ? WHERE ${column} = ?`, [
          sums.get(keyOf(key))!.n,
          key.id,
        ]);
      }
      return true;
    });
  }

  /** Every counter of a date (inactive slots and hours too: a registration may still sit there). */
  async keysOfDate(eventDateId: number): Promise<CounterKey[]> {
    const rows = await this.db.query<{ level: CounterLevel; id: number }[]>(
      `SELECT 'slot' AS level, s.event_slot_id AS id FROM event_slots s
         JOIN event_hours h ON h.event_hour_id = s.event_hour_id WHERE h.event_date_id = ?
       UNION ALL SELECT 'hour', event_hour_id FROM event_hours WHERE event_date_id = ?
       UNION ALL SELECT 'date', event_date_id FROM event_dates WHERE event_date_id = ?`,
      [eventDateId, eventDateId, eventDateId],
    );
    return rows.map((r) => ({ level: r.level, id: Number(r.id) }));
  }

  /** Dates with any reserved counter, for the backfill's sweep (optionally from a date key on). */
  async datesWithReservations(fromDateKey: number | undefined): Promise<number[]> {
    const rows = await this.db.query<{ id: number }[]>(
      `SELECT DISTINCT d.event_date_id AS id FROM event_dates d
         LEFT JOIN event_hours h ON h.event_date_id = d.event_date_id
         LEFT JOIN event_slots s ON s.event_hour_id = h.event_hour_id
        WHERE (d.reserved <> 0 OR h.reserved <> 0 OR s.reserved <> 0) ${fromDateKey ? 'AND d.event_date_key >= ?' : ''}`,
      fromDateKey ? [fromDateKey] : [],
    );
    return rows.map((r) => Number(r.id));
  }

  async dateKeysOf(ids: number[]): Promise<Map<number, number>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.query<{ id: number; k: number }[]>(
      'SELECT event_date_id AS id, event_date_key AS k FROM event_dates WHERE event_date_id IN (?)',
      [ids],
    );
    return new Map(rows.map((r) => [Number(r.id), Number(r.k)]));
  }

  async read(keys: CounterKey[]): Promise<CounterRow[]> {
    const rows: CounterRow[] = [];
    for (const key of sortCounters(keys)) {
      const { table, key: column } = TABLE[key.level];
      const found = await this.db.query<{ capacity: number; reserved: number }[]>(
        `SELECT capacity, reserved FROM ${table} WHERE ${column} = ?`,
        [key.id],
      );
      if (found[0]) rows.push({ ...key, capacity: found[0].capacity, reserved: found[0].reserved });
    }
    return rows;
  }

  /**
   * Locks the counters (FOR UPDATE, in lock order) and hands them to `decide`, which returns the
   * relative change to apply to each; the changes are applied under the same locks and committed.
   * Used by recovery and the backfill: a correction is relative, so nothing that commits after
   * the lock is released is lost.
   */
  async adjustLocked(
    keys: CounterKey[],
    decide: (rows: CounterRow[]) => Promise<Map<string, number> | undefined>,
  ): Promise<Map<string, number> | undefined> {
    return this.inTransaction(async (runner) => {
      const rows: CounterRow[] = [];
      for (const key of sortCounters(keys)) {
        const { table, key: column } = TABLE[key.level];
        const found = (await runner.query(
          `SELECT capacity, reserved FROM ${table} WHERE ${column} = ? FOR UPDATE`,
          [key.id],
        )) as { capacity: number; reserved: number }[];
        if (found[0])
          rows.push({ ...key, capacity: found[0].capacity, reserved: found[0].reserved });
      }
      const deltas = await decide(rows);
      if (!deltas) return undefined;
      for (const row of rows) {
        const delta = deltas.get(`${row.level}:${row.id}`) ?? 0;
        if (delta === 0) continue;
        const { table, key: column } = TABLE[row.level];
        await runner.query(`UPDATE ${table} SET reserved = reserved + ? WHERE ${column} = ?`, [
          delta,
          row.id,
        ]);
      }
      return deltas;
    });
  }

  // No connection means nothing was sent: the schedule is unavailable, and nothing happened.
  private async acquire(): Promise<QueryRunner> {
    const runner = this.db.createQueryRunner();
    try {
      await runner.connect();
      return runner;
    } catch (error) {
      await runner.release().catch(() => undefined);
      throw translated(error);
    }
  }

  // One statement in autocommit. Failing to get a connection leaves nothing behind; losing the
  // connection while the statement runs is ambiguous (it may have committed) and is reported as
  // such, so the saga leaves its record for recovery. Deadlocks and lock timeouts are retried.
  private async autocommit(sql: string, params: unknown[]): Promise<unknown> {
    return withLockRetry(async () => {
      const runner = await this.acquire();
      try {
        return (await runner.query(sql, params)) as unknown;
      } catch (error) {
        if (isConnectionError(error)) throw new CounterOutcomeUnknownError(error);
        throw error;
      } finally {
        await runner.release().catch(() => undefined);
      }
    });
  }

  // Errors before COMMIT leave nothing behind (the server rolls back). Only a failed COMMIT is
  // ambiguous, and is reported as such so the saga leaves its record for recovery.
  private async inTransaction<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    return withLockRetry(async () => {
      const runner = await this.acquire();
      try {
        await runner.startTransaction();
        let result: T;
        try {
          result = await work(runner);
        } catch (error) {
          await runner.rollbackTransaction().catch(() => undefined);
          throw isConnectionError(error) ? translated(error) : error;
        }
        if (result === false || result === undefined) {
          await runner.rollbackTransaction();
          return result;
        }
        try {
          await runner.commitTransaction();
        } catch (error) {
          if (isConnectionError(error)) throw new CounterOutcomeUnknownError(error);
          throw error;
        }
        return result;
      } finally {
        await runner.release().catch(() => undefined);
      }
    });
  }
}

const ALIAS: Record<CounterLevel, string> = { slot: 's', hour: 'h', date: 'd' };

const keyOf = (k: CounterKey): string => `${k.level}:${k.id}`;

// Locks the counters, one SELECT ... FOR UPDATE per table, in the lock order slot, hour, date.
async function lockCounters(runner: QueryRunner, keys: CounterKey[]): Promise<CounterRow[]> {
  const rows: CounterRow[] = [];
  const sorted = sortCounters(keys);
  for (const level of ['slot', 'hour', 'date'] as const) {
    const ids = sorted.filter((k) => k.level === level).map((k) => k.id);
    if (ids.length === 0) continue;
    const { table, key: column } = TABLE[level];
    const found = (await runner.query(
      `SELECT ${column} AS id, capacity, reserved FROM ${table} WHERE ${column} IN (?) ORDER BY ${column} FOR UPDATE`,
      [ids],
    )) as { id: number; capacity: number; reserved: number }[];
    for (const r of found) {
      rows.push({
        level,
        id: Number(r.id),
        capacity: Number(r.capacity),
        reserved: Number(r.reserved),
      });
    }
  }
  return rows;
}

/**
 * One UPDATE over the counters, joined in lock order:
 *   UPDATE event_slots s, event_hours h, event_dates d
 *      SET s.reserved = s.reserved + n, h.reserved = h.reserved + n, d.reserved = d.reserved + n
 *    WHERE s.event_slot_id = ? AND h.event_hour_id = ? AND d.event_date_id = ?
 *      [AND s.reserved + n <= s.capacity AND ...]   (only when taking)
 */
function counterUpdate(
  keys: CounterKey[],
  delta: number,
  checkCapacity: boolean,
): { sql: string; params: number[] } {
  const alias = (k: CounterKey) => ALIAS[k.level];
  const tables = keys.map((k) => `${TABLE[k.level].table} ${alias(k)}`).join(', ');
  const sets = keys.map((k) => `${alias(k)}.reserved = ${alias(k)}.reserved + ?`).join(', ');
  const ids = keys.map((k) => `${alias(k)}.${TABLE[k.level].key} = ?`);
  const fits = checkCapacity
    ? keys.map((k) => `${alias(k)}.reserved + ? <= ${alias(k)}.capacity`)
    : [];
  return {
    sql: `UPDATE ${tables} SET ${sets} WHERE ${[...ids, ...fits].join(' AND ')}`,
    params: [...keys.map(() => delta), ...keys.map((k) => k.id), ...fits.map(() => delta)],
  };
}

function translated(error: unknown): unknown {
  return isConnectionError(error) ? scheduleUnavailable() : error;
}
