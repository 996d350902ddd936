import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { privateTransaction } from '../database/sql';
import type { Queryable } from '../database/sql';

export interface OutboxMessage {
  id: string;
  householdId: string;
  registrationId: string;
  kind: string;
  /** the JSON text exactly as the saga wrote it; delivered byte for byte */
  payload: string;
  /** attempts so far, including the one just claimed */
  attempts: number;
  /** seconds since the message was written, by the database clock */
  ageSeconds: number;
}

interface RawMessage {
  id: string;
  household_id: string;
  registration_id: string;
  kind: string;
  payload: string;
  attempts: number;
  age_seconds: number | string;
}

// The notification outbox, written by the registration saga in the same transaction as the
// change it announces. A message is done when sent_at is set: delivered, or given up on
// (last_error then says why). Only a household's oldest unfinished message is ever claimable,
// so a household's messages go out in the order they were written. Every time comes from the
// database clock, so instances with skewed clocks agree.
@Injectable()
export class NotificationOutboxRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  /**
   * Writes a message about a registration inside the caller's transaction (the change it
   * announces); the payload is assembled from the registration row as that transaction sees it.
   */
  async enqueue(m: Queryable, registrationId: string, kind: string): Promise<void> {
    await this.enqueueMany(m, [registrationId], kind);
  }

  /** One message of `kind` per registration, in one statement, in id order. */
  async enqueueMany(m: Queryable, registrationIds: string[], kind: string): Promise<void> {
    if (registrationIds.length === 0) return;
    await m.query(
      `INSERT INTO notification_outbox (household_id, registration_id, kind, payload)
       SELECT r.household_id, r.id, ?, JSON_OBJECT('registrationId', CAST(r.id AS CHAR),
         'householdId', CAST(r.household_id AS CHAR), 'kind', ?, 'status', r.status,
         'eventDateId', r.event_date_id, 'eventSlotId', r.event_slot_id, 'spots', r.spots,
         'at', DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ'))
         FROM event_registrations r WHERE r.id IN (?) ORDER BY r.id`,
      [kind, kind, registrationIds],
    );
  }

  /**
   * Deletes a registration's messages, unless one was already sent or is being sent: then all
   * stay (so the household also hears of what came after). Locks them first.
   */
  async deleteUntouched(m: Queryable, registrationId: string): Promise<void> {
    const outbox = await m.query<{ id: string; touched: number | string }[]>(
      `SELECT id, (sent_at IS NOT NULL OR attempts > 0 OR available_at > NOW(6)) AS touched
         FROM notification_outbox WHERE registration_id = ? FOR UPDATE`,
      [registrationId],
    );
    if (outbox.some((o) => Number(o.touched) === 1)) return;
    await m.query('DELETE FROM notification_outbox WHERE registration_id = ?', [registrationId]);
  }

  /**
   * Claims up to `limit` due messages, at most one per household and only its oldest unfinished
   * one, by pushing their available_at `leaseMs` ahead: a claimed message is invisible to other
   * dispatchers until the lease runs out, which is how a crash mid-delivery is retried.
   */
  async claimDue(limit: number, leaseMs: number): Promise<OutboxMessage[]> {
    // candidates from a plain read: the head of each household's queue, if it is due
    const heads = await this.db.query<{ id: string }[]>(
      `SELECT o.id FROM notification_outbox o
         JOIN (SELECT household_id, MIN(id) AS id FROM notification_outbox
                WHERE sent_at IS NULL GROUP BY household_id) h ON h.id = o.id
        WHERE o.available_at <= NOW(6)
        ORDER BY o.id LIMIT ?`,
      [limit],
    );
    if (heads.length === 0) return [];
    return privateTransaction(this.db, async (m) => {
      // another dispatcher may hold some of them: skip those instead of waiting
      const locked = await m.query<RawMessage[]>(
        `SELECT id, household_id, registration_id, kind, payload, attempts + 1 AS attempts,
                  TIMESTAMPDIFF(MICROSECOND, created_at, NOW(6)) / 1000000 AS age_seconds
             FROM notification_outbox
            WHERE id IN (?) AND sent_at IS NULL AND available_at <= NOW(6)
            ORDER BY id FOR UPDATE SKIP LOCKED`,
        [heads.map((h) => h.id)],
      );
      if (locked.length === 0) return [];
      // still the oldest unfinished of its household, now that the row is ours
      const stillHeads = await m.query<{ id: string }[]>(
        `SELECT MIN(id) AS id FROM notification_outbox
            WHERE household_id IN (?) AND sent_at IS NULL GROUP BY household_id`,
        [[...new Set(locked.map((r) => r.household_id))]],
      );
      const headIds = new Set(stillHeads.map((h) => String(h.id)));
      const claimed = locked.filter((r) => headIds.has(String(r.id)));
      if (claimed.length === 0) return [];
      await m.query(
        `UPDATE notification_outbox
              SET attempts = attempts + 1, available_at = NOW(6) + INTERVAL ? MICROSECOND
            WHERE id IN (?)`,
        [leaseMs * 1000, claimed.map((r) => r.id)],
      );
      return claimed.map(toMessage);
    });
  }

  /** Marks delivered messages done, in one statement (one commit) however many there are. */
  async markSentMany(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query(
      'UPDATE notification_outbox SET sent_at = NOW(6), last_error = NULL WHERE id IN (?)',
      [ids],
    );
  }

  /** Leaves the message at the head of its household's queue, due again after `delayMs`. */
  async markRetry(id: string, delayMs: number, error: string): Promise<void> {
    await this.db.query(
      `UPDATE notification_outbox SET available_at = NOW(6) + INTERVAL ? MICROSECOND, last_error = ?
        WHERE id = ? AND sent_at IS NULL`,
      [Math.round(delayMs * 1000), error.slice(0, 500), id],
    );
  }

  /** Gives up on the message; the household's next one may go. */
  async markFailed(id: string, error: string): Promise<void> {
    await this.db.query(
      'UPDATE notification_outbox SET sent_at = NOW(6), last_error = ? WHERE id = ? AND sent_at IS NULL',
      [`gave up: ${error}`.slice(0, 500), id],
    );
  }

  async backlog(): Promise<{ pending: number; oldestAgeSeconds: number }> {
    const rows = await this.db.query<{ n: number | string; age: number | string | null }[]>(
      `SELECT COUNT(*) AS n, TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) / 1000000 AS age
         FROM notification_outbox WHERE sent_at IS NULL`,
    );
    return { pending: Number(rows[0]?.n ?? 0), oldestAgeSeconds: Number(rows[0]?.age ?? 0) };
  }
}

function toMessage(row: RawMessage): OutboxMessage {
  return {
    id: String(row.id),
    householdId: String(row.household_id),
    registrationId: String(row.registration_id),
    kind: row.kind,
    payload: row.payload,
    attempts: Number(row.attempts),
    ageSeconds: Number(row.age_seconds),
  };
}
