import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../../database/database.constants';
import { translatePrivateError } from '../../database/db-errors';
import { insertId, Queryable } from '../../database/sql';
import { Leg, NewSaga, SagaKind, SagaPlan, SagaRow, SagaState } from './saga.types';

interface RawSaga {
  id: string;
  registration_id: string;
  event_date_id: number;
  kind: SagaKind;
  state: SagaState;
  take_slot_id: number | null;
  take_hour_id: number | null;
  take_spots: number;
  release_slot_id: number | null;
  release_hour_id: number | null;
  release_spots: number;
  plan: string;
  actor: string;
  idempotency_scope: string | null;
  outcome: string | null;
  lease_expired: number | string;
  lease_left: number | string;
}

// the columns a saga row is written with; a superseding row copies them from its original
const COLUMNS = `registration_id, event_date_id, kind, state, take_slot_id, take_hour_id,
  take_spots, release_slot_id, release_hour_id, release_spots, plan, actor, idempotency_scope, lease_until`;

function toSaga(row: RawSaga): SagaRow {
  const leg = (slot: number | null, hour: number | null, spots: number): Leg | null =>
    spots === 0
      ? null
      : { eventDateId: row.event_date_id, eventHourId: hour, eventSlotId: slot, spots };
  return {
    id: String(row.id),
    registrationId: String(row.registration_id),
    eventDateId: row.event_date_id,
    kind: row.kind,
    state: row.state,
    take: leg(row.take_slot_id, row.take_hour_id, row.take_spots),
    release: leg(row.release_slot_id, row.release_hour_id, row.release_spots),
    plan: JSON.parse(row.plan) as SagaPlan,
    actor: row.actor,
    idempotencyScope: row.idempotency_scope,
    outcome: row.outcome,
    leaseExpired: Number(row.lease_expired) === 1,
    leaseSecondsLeft: Number(row.lease_left),
  };
}

// A plan keeps a change's special requirements (possibly health information) only while the
// take that will apply them is pending; recovery needs them until then, nobody after.
function storedPlan(plan: SagaPlan, state: SagaState): SagaPlan {
  if (state === 'taking' || plan.specialRequirements === undefined) return plan;
  const stored = { ...plan };
  delete stored.specialRequirements;
  return stored;
}

// The table registration_sagas: one row per saga, the record of a counter move in flight.
// Methods that take `m` run inside a transaction the caller opened (saga-steps.repository.ts,
// batch/).
@Injectable()
export class SagaRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  async find(id: string): Promise<SagaRow | undefined> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawSaga[]>(
        `SELECT s.*, (s.lease_until < NOW(6)) AS lease_expired,
                TIMESTAMPDIFF(MICROSECOND, NOW(6), s.lease_until) / 1e6 AS lease_left
           FROM registration_sagas s WHERE s.id = ?`,
        [id],
      ),
    );
    return rows[0] ? toSaga(rows[0]) : undefined;
  }

  async insert(m: Queryable, s: NewSaga): Promise<string> {
    const [id] = await this.insertMany(m, [s]);
    return id;
  }

  /** Several saga rows in one statement; multi-row RETURNING gives their ids in row order. */
  async insertMany(m: Queryable, sagas: NewSaga[]): Promise<string[]> {
    if (sagas.length === 0) return [];
    const rows = await m.query<{ id: string | number }[]>(
      `INSERT INTO registration_sagas (${COLUMNS})
       VALUES ${sagas.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6) + INTERVAL ? SECOND)').join(', ')}
       RETURNING id`,
      sagas.flatMap((s) => [
        s.registrationId,
        s.eventDateId,
        s.kind,
        s.state,
        s.take?.eventSlotId ?? null,
        s.take?.eventHourId ?? null,
        s.take?.spots ?? 0,
        s.release?.eventSlotId ?? null,
        s.release?.eventHourId ?? null,
        s.release?.spots ?? 0,
        JSON.stringify(storedPlan(s.plan, s.state)),
        s.actor,
        s.idempotencyScope ?? null,
        s.leaseSeconds,
      ]),
    );
    return rows.map((r) => String(r.id));
  }

  async setState(m: Queryable, sagaId: string, state: SagaState, outcome: string): Promise<void> {
    // past `taking`, the text the plan carried has been applied or refused: it is dropped
    await m.query(
      `UPDATE registration_sagas SET state = ?, outcome = ?,
              plan = IF(? <> 'taking' AND JSON_CONTAINS_PATH(plan, 'one', '$.specialRequirements'),
                        JSON_REMOVE(plan, '$.specialRequirements'), plan)
        WHERE id = ?`,
      [state, outcome, state, sagaId],
    );
  }

  /**
   * Sagas of a batch finished, one statement per (state, outcome). Their plans carry no special
   * requirements (a batch writes those with the registration), so there is nothing to drop.
   */
  async finishMany(
    m: Queryable,
    outcomes: ({ sagaId: string; state: SagaState; outcome: string } | undefined)[],
  ): Promise<void> {
    const groups = new Map<string, string[]>();
    for (const o of outcomes) {
      if (!o) continue;
      const k = `${o.state}\u0000${o.outcome}`;
      groups.set(k, [...(groups.get(k) ?? []), o.sagaId]);
    }
    for (const [k, ids] of groups) {
      const [state, outcome] = k.split('\u0000');
      await m.query('UPDATE registration_sagas SET state = ?, outcome = ? WHERE id IN (?)', [
        state,
        outcome,
        ids,
      ]);
    }
  }

  /** The release leg was given back: the saga is over. */
  async finishRelease(sagaId: string): Promise<void> {
    await this.finishReleases([sagaId]);
  }

  /** The release legs of these sagas reached the counters: they are over. */
  async finishReleases(sagaIds: string[]): Promise<void> {
    if (sagaIds.length === 0) return;
    await translatePrivateError(() =>
      this.db.query(
        "UPDATE registration_sagas SET state = 'done' WHERE id IN (?) AND state = 'releasing'",
        [sagaIds],
      ),
    );
  }

  /** Who started each of these sagas, by saga id. */
  async actorsOf(m: Queryable, sagaIds: string[]): Promise<Map<string, string>> {
    if (sagaIds.length === 0) return new Map();
    const rows = await m.query<{ id: string; actor: string }[]>(
      'SELECT id, actor FROM registration_sagas WHERE id IN (?)',
      [sagaIds],
    );
    return new Map(rows.map((r) => [String(r.id), r.actor]));
  }

  /** A `taking` saga, locked, for recovery to supersede; undefined when it is no longer taking. */
  async lockTaking(m: Queryable, sagaId: string): Promise<{ registrationId: string } | undefined> {
    const [old] = await m.query<{ registration_id: string }[]>(
      "SELECT registration_id FROM registration_sagas WHERE id = ? AND state = 'taking' FOR UPDATE",
      [sagaId],
    );
    return old ? { registrationId: String(old.registration_id) } : undefined;
  }

  /** A new `taking` row with the same legs, plan and key as `sagaId`, on a fresh lease. */
  async copyAsTaking(m: Queryable, sagaId: string, leaseSeconds: number): Promise<string> {
    const inserted = await m.query<unknown>(
      `INSERT INTO registration_sagas (${COLUMNS})
       SELECT registration_id, event_date_id, kind, 'taking', take_slot_id, take_hour_id, take_spots,
              release_slot_id, release_hour_id, release_spots, plan, actor, idempotency_scope,
              NOW(6) + INTERVAL ? SECOND
         FROM registration_sagas WHERE id = ?`,
      [leaseSeconds, sagaId],
    );
    return insertId(inserted);
  }

  /**
   * The first date (not in `exclude`) with an unfinished saga whose lease expired, and every
   * unfinished saga of it with whether its lease expired, all locked (SKIP LOCKED for the first).
   */
  async lockStuckDate(
    m: Queryable,
    exclude: number[],
  ): Promise<{ eventDateId: number; sagas: { id: string; expired: boolean }[] } | undefined> {
    const [first] = await m.query<{ event_date_id: number }[]>(
      `SELECT event_date_id FROM registration_sagas
        WHERE state IN ('taking', 'releasing') AND lease_until < NOW(6) ${exclude.length > 0 ? 'AND event_date_id NOT IN (?)' : ''}
        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`,
      exclude.length > 0 ? [exclude] : [],
    );
    if (!first) return undefined;
    const eventDateId = Number(first.event_date_id);
    const sagas = await m.query<{ id: string; expired: number | string }[]>(
      `SELECT id, (lease_until < NOW(6)) AS expired FROM registration_sagas
        WHERE event_date_id = ? AND state IN ('taking', 'releasing') ORDER BY id FOR UPDATE`,
      [eventDateId],
    );
    return {
      eventDateId,
      sagas: sagas.map((s) => ({ id: String(s.id), expired: Number(s.expired) === 1 })),
    };
  }

  async renewLeases(m: Queryable, sagaIds: string[], leaseSeconds: number): Promise<void> {
    await m.query(
      'UPDATE registration_sagas SET lease_until = NOW(6) + INTERVAL ? SECOND WHERE id IN (?)',
      [leaseSeconds, sagaIds],
    );
  }

  /** Ids of the unfinished sagas of a date. */
  async unfinishedOfDate(m: Queryable, eventDateId: number): Promise<string[]> {
    const rows = await m.query<{ id: string }[]>(
      "SELECT id FROM registration_sagas WHERE event_date_id = ? AND state IN ('taking', 'releasing')",
      [eventDateId],
    );
    return rows.map((s) => String(s.id));
  }

  async unfinishedCount(): Promise<number> {
    const [row] = await translatePrivateError(() =>
      this.db.query<{ n: string }[]>(
        "SELECT COUNT(*) AS n FROM registration_sagas WHERE state IN ('taking', 'releasing')",
      ),
    );
    return Number(row.n);
  }
}
