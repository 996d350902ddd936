import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../../common/domain-error';
import { PRIVATE_DB } from '../../database/database.constants';
import { isDuplicateKey, translatePrivateError, withLockRetry } from '../../database/db-errors';
import type { CounterTarget } from '../../schedule/schedule.types';
import type { DateSettings, Registration, RegistrationStatus } from '../registration.types';
import { WaitlistRepository } from '../waitlist.repository';
import { SagaRepository } from './saga.repository';
import type { Leg, NewRegistration, SagaPlan } from './saga.types';

/** A new registration once its batch's step 1 committed: pending, held by its own saga. */
export interface Intent {
  input: NewRegistration;
  registrationId: string;
  sagaId: string;
  createdAt: Date;
}

/** A waitlisted registration claimed for promotion by its own saga. */
export interface PromotionClaim {
  registrationId: string;
  sagaId: string;
  spots: number;
  partySize: number;
  target: CounterTarget;
  /** the registration whose release made the room (recorded in history), else null */
  cause: string | null;
}

/** A registration cancelled by step 1 of a cancel batch. */
export interface CancelIntent {
  registration: Registration;
  sagaId: string;
  /** the seat it held and that is still to give back (confirmed only) */
  owes: boolean;
  at: Date;
}

/** How step 3 of a register batch left one registration. */
export type Settlement =
  | { outcome: 'confirmed'; at: Date }
  | { outcome: 'waitlisted'; at: Date; place: number; position: number }
  | { outcome: 'full' }
  /** recovery took its saga over (it outlived its lease): not ours to answer */
  | { outcome: 'lost' };

const ALREADY_REGISTERED = 'uq_registrations_household_active_date';

// `CASE id WHEN ? THEN ? ... END` for a per-row value in one multi-row UPDATE.
function caseOf(column: string, pairs: [string, unknown][]): { sql: string; params: unknown[] } {
  return {
    sql: `CASE ${column} ${pairs.map(() => 'WHEN ? THEN ?').join(' ')} END`,
    params: pairs.flat(),
  };
}

interface SagaInsert {
  registrationId: string;
  eventDateId: number;
  kind: 'register' | 'promote' | 'cancel';
  state: 'taking' | 'releasing' | 'done';
  take: Leg | null;
  release: Leg | null;
  plan: SagaPlan;
  actor: string;
  idempotencyScope?: string;
}

// The private side of the group commit (registration.batch.ts): each method is ONE private
// transaction for a whole batch, with multi-row statements. Every registration still gets its
// own saga row, so recovery, fencing (pending_saga_id) and Idempotency-Key replay see exactly
// what the one-at-a-time saga writes.
@Injectable()
export class BatchStepsRepository {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly waitlist: WaitlistRepository,
    private readonly sagas: SagaRepository,
  ) {}

  // READ COMMITTED: a read after a lock sees what the lock's previous holder committed (the
  // queue position after the queue row lock, the waitlist count after the settings lock)
  private tx<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return translatePrivateError(() =>
      withLockRetry(() => this.db.transaction('READ COMMITTED', work)),
    );
  }

  // ---- register -----------------------------------------------------------------------------

  /**
   * Step 1 of a register batch: the pending rows, their members and one saga row each, in one
   * transaction. A household that already holds an active registration (or appears twice in the
   * batch) gets ALREADY_REGISTERED and the others go on: the batch is then inserted row by row
   * under savepoints, so only that household's row is refused.
   */
  async beginRegisters(
    inputs: NewRegistration[],
    leaseSeconds: number,
  ): Promise<(Intent | DomainError)[]> {
    return this.tx(async (m) => {
      let rows: ({ id: string; createdAt: Date } | DomainError)[];
      try {
        await m.query('SAVEPOINT batch_insert');
        rows = await this.insertRegistrations(m, inputs);
      } catch (error) {
        if (!isDuplicateKey(error, ALREADY_REGISTERED)) throw error;
        await m.query('ROLLBACK TO SAVEPOINT batch_insert');
        rows = [];
        for (const input of inputs) {
          try {
            await m.query('SAVEPOINT one_insert');
            rows.push((await this.insertRegistrations(m, [input]))[0]);
          } catch (inner) {
            if (!isDuplicateKey(inner, ALREADY_REGISTERED)) throw inner;
            await m.query('ROLLBACK TO SAVEPOINT one_insert');
            rows.push(alreadyRegistered());
          }
        }
      }
      const kept = inputs
        .map((input, i) => ({ input, row: rows[i] }))
        .filter(
          (x): x is { input: NewRegistration; row: { id: string; createdAt: Date } } =>
            !(x.row instanceof DomainError),
        );
      if (kept.length === 0) return rows as DomainError[];
      const members = kept.flatMap((k) => k.input.memberIds.map((id) => [k.row.id, id]));
      if (members.length > 0) {
        await m.query(
          'INSERT INTO event_registration_members (registration_id, member_id) VALUES ?',
          [members],
        );
      }
      const sagaIds = await this.insertSagas(
        m,
        kept.map(({ input, row }) => ({
          registrationId: row.id,
          eventDateId: input.target.eventDateId,
          kind: 'register',
          state: 'taking',
          take: { ...input.target, spots: input.spots },
          release: null,
          plan: {
            eventHourId: input.target.eventHourId,
            eventSlotId: input.target.eventSlotId,
            partySize: input.partySize,
            spots: input.spots,
            joinWaitlist: input.joinWaitlist,
          },
          actor: input.actor,
          idempotencyScope: input.idempotencyScope,
        })),
        leaseSeconds,
      );
      const link = caseOf(
        'id',
        kept.map((k, i) => [k.row.id, sagaIds[i]]),
      );
      await m.query(
        `UPDATE event_registrations SET pending_saga_id = ${link.sql} WHERE id IN (?)`,
        [...link.params, kept.map((k) => k.row.id)],
      );
      let next = 0;
      return rows.map((row, i) => {
        if (row instanceof DomainError) return row;
        const sagaId = sagaIds[next++];
        return { input: inputs[i], registrationId: row.id, sagaId, createdAt: row.createdAt };
      });
    });
  }

  /**
   * Step 3 of a register batch, one transaction: the registrations granted a seat become
   * confirmed; those without room join their target's waitlist in order (each given the next
   * place of the queue under its lock, and its exact position), as far as the waitlist is
   * allowed and has room, or are removed (CAPACITY_FULL). Every update is fenced on the
   * registration's own saga: one recovery took over is `lost` and left alone.
   */
  async settleRegisters(
    intents: Intent[],
    granted: boolean[],
    settings: DateSettings,
  ): Promise<Settlement[]> {
    return this.tx(async (m) => {
      const { held, now } = await this.lockHeld(
        m,
        intents.map((i) => [i.registrationId, i.sagaId]),
      );
      const result: Settlement[] = intents.map(() => ({ outcome: 'lost' }));
      const confirmed: number[] = [];
      const noRoom: number[] = [];
      intents.forEach((intent, i) => {
        if (!held.has(intent.registrationId)) return;
        (granted[i] ? confirmed : noRoom).push(i);
      });

      if (confirmed.length > 0) {
        await m.query(
          `UPDATE event_registrations
              SET status = 'confirmed', confirmed_at = ?, updated_at = ?, pending_saga_id = NULL,
                  version = version + 1
            WHERE id IN (?)`,
          [now, now, confirmed.map((i) => intents[i].registrationId)],
        );
        for (const i of confirmed) result[i] = { outcome: 'confirmed', at: now };
      }

      const wanting = noRoom.filter((i) => intents[i].input.joinWaitlist);
      const room = await this.waitlistRoom(m, settings, wanting.length);
      const waiting = wanting.slice(0, room);
      const waitingSet = new Set(waiting);
      const removed = noRoom.filter((i) => !waitingSet.has(i));

      if (waiting.length > 0) {
        const places: [string, number][] = [];
        for (const members of groupBy(waiting, (i) => intents[i].input.target)) {
          const target = intents[members[0]].input.target;
          // the queue row lock first: whoever took places before us has committed, so the
          // count (read committed) sees every registration ahead of this batch
          const first = await this.waitlist.assignPlaces(
            m,
            target.eventDateId,
            target.eventSlotId,
            members.length,
          );
          const ahead = await this.waitlist.countOfTarget(m, target);
          members.forEach((i, k) => {
            places.push([intents[i].registrationId, first + k]);
            result[i] = {
              outcome: 'waitlisted',
              at: now,
              place: first + k,
              position: ahead + k + 1,
            };
          });
        }
        const place = caseOf('id', places);
        await m.query(
          `UPDATE event_registrations
              SET status = 'waitlisted', queued_at = created_at, queue_place = ${place.sql},
                  updated_at = ?, pending_saga_id = NULL, version = version + 1
            WHERE id IN (?)`,
          [...place.params, now, places.map(([id]) => id)],
        );
      }

      if (removed.length > 0) {
        const ids = removed.map((i) => intents[i].registrationId);
        await m.query('DELETE FROM event_registrations WHERE id IN (?)', [ids]);
        await m.query('DELETE FROM event_registration_members WHERE registration_id IN (?)', [ids]);
        for (const i of removed) result[i] = { outcome: 'full' };
      }

      await this.finishSagas(
        m,
        intents.map((intent, i) => {
          const r = result[i];
          if (r.outcome === 'lost') return undefined;
          return r.outcome === 'full'
            ? { sagaId: intent.sagaId, state: 'failed', outcome: 'CAPACITY_FULL' }
            : { sagaId: intent.sagaId, state: 'done', outcome: r.outcome };
        }),
      );
      const recorded = intents.flatMap((intent, i) => {
        const r = result[i];
        if (r.outcome !== 'confirmed' && r.outcome !== 'waitlisted') return [];
        return [
          {
            registrationId: intent.registrationId,
            eventDateId: intent.input.target.eventDateId,
            actor: intent.input.actor,
            action: r.outcome,
            fromStatus: r.outcome === 'confirmed' ? ('pending' as const) : null,
            toStatus: r.outcome,
            spots: intent.input.spots,
            eventSlotId: intent.input.target.eventSlotId,
          },
        ];
      });
      await this.record(m, recorded, now);
      await this.enqueue(
        m,
        recorded.map((r) => [r.registrationId, r.action]),
      );
      return result;
    });
  }

  /** A register batch whose public step failed before anything was taken: undo step 1. */
  async abandonRegisters(intents: Intent[], outcome: string): Promise<void> {
    if (intents.length === 0) return;
    await this.tx(async (m) => {
      const { held } = await this.lockHeld(
        m,
        intents.map((i) => [i.registrationId, i.sagaId]),
      );
      const ids = [...held];
      if (ids.length > 0) {
        await m.query('DELETE FROM event_registrations WHERE id IN (?)', [ids]);
        await m.query('DELETE FROM event_registration_members WHERE registration_id IN (?)', [ids]);
      }
      await this.finishSagas(
        m,
        intents
          .filter((i) => held.has(i.registrationId))
          .map((i) => ({ sagaId: i.sagaId, state: 'failed', outcome })),
      );
    });
  }

  // ---- promote ------------------------------------------------------------------------------

  /**
   * Step 1 of a promotion batch: claims the given waitlisted registrations that no saga holds,
   * one `promote` saga each (taking), in one transaction. Those already claimed or no longer
   * waitlisted are skipped. Returned in the order given (the queue order).
   */
  async claimForPromotion(
    candidates: { id: string; spots: number }[],
    target: CounterTarget,
    actor: string,
    leaseSeconds: number,
    cause: string | null = null,
  ): Promise<PromotionClaim[]> {
    if (candidates.length === 0) return [];
    return this.tx(async (m) => {
      const rows = await m.query<{ id: string; party_size: number; spots: number }[]>(
        `SELECT id, party_size, spots FROM event_registrations
          WHERE id IN (?) AND status = 'waitlisted' AND pending_saga_id IS NULL
            AND event_date_id = ? AND event_slot_id <=> ? FOR UPDATE`,
        [candidates.map((c) => c.id), target.eventDateId, target.eventSlotId],
      );
      const byId = new Map(rows.map((r) => [String(r.id), r]));
      const claimable = candidates.filter((c) => byId.has(c.id));
      if (claimable.length === 0) return [];
      const sagaIds = await this.insertSagas(
        m,
        claimable.map((c) => {
          const row = byId.get(c.id)!;
          return {
            registrationId: c.id,
            eventDateId: target.eventDateId,
            kind: 'promote',
            state: 'taking',
            take: { ...target, spots: row.spots },
            release: null,
            plan: {
              eventHourId: target.eventHourId,
              eventSlotId: target.eventSlotId,
              partySize: row.party_size,
              spots: row.spots,
              // in the plan, so a promotion recovery finishes records its cause too
              ...(cause === null ? {} : { cause }),
            },
            actor,
          };
        }),
        leaseSeconds,
      );
      const link = caseOf(
        'id',
        claimable.map((c, i) => [c.id, sagaIds[i]]),
      );
      await m.query(
        `UPDATE event_registrations
            SET pending_saga_id = ${link.sql}, version = version + 1, updated_at = updated_at
          WHERE id IN (?)`,
        [...link.params, claimable.map((c) => c.id)],
      );
      return claimable.map((c, i) => ({
        registrationId: c.id,
        sagaId: sagaIds[i],
        spots: byId.get(c.id)!.spots,
        partySize: byId.get(c.id)!.party_size,
        target,
        cause,
      }));
    });
  }

  /**
   * Step 3 of a promotion batch: the granted become confirmed (history `promoted`, a
   * notification each); the others stay waitlisted, in their place, unclaimed. Returns, per
   * claim, whether it is now confirmed by this batch (false also when recovery took it over).
   */
  async settlePromotions(claims: PromotionClaim[], granted: boolean[]): Promise<boolean[]> {
    return this.tx(async (m) => {
      const { held, now } = await this.lockHeld(
        m,
        claims.map((c) => [c.registrationId, c.sagaId]),
      );
      const won = claims.map((c, i) => held.has(c.registrationId) && granted[i]);
      const stay = claims.filter((c, i) => held.has(c.registrationId) && !granted[i]);
      const promoted = claims.filter((_, i) => won[i]);
      if (promoted.length > 0) {
        await m.query(
          `UPDATE event_registrations
              SET status = 'confirmed', confirmed_at = COALESCE(confirmed_at, ?), queued_at = NULL,
                  queue_place = NULL, pending_saga_id = NULL, version = version + 1
            WHERE id IN (?)`,
          [now, promoted.map((c) => c.registrationId)],
        );
      }
      if (stay.length > 0) {
        await m.query(
          'UPDATE event_registrations SET pending_saga_id = NULL, updated_at = updated_at WHERE id IN (?)',
          [stay.map((c) => c.registrationId)],
        );
      }
      await this.finishSagas(m, [
        ...promoted.map((c) => ({ sagaId: c.sagaId, state: 'done', outcome: 'confirmed' })),
        ...stay.map((c) => ({ sagaId: c.sagaId, state: 'failed', outcome: 'CAPACITY_FULL' })),
      ]);
      const actor = await this.actorsOf(
        m,
        promoted.map((c) => c.sagaId),
      );
      await this.record(
        m,
        promoted.map((c) => ({
          registrationId: c.registrationId,
          eventDateId: c.target.eventDateId,
          actor: actor.get(c.sagaId) ?? 'system',
          action: 'promoted',
          fromStatus: 'waitlisted' as const,
          toStatus: 'confirmed' as const,
          spots: c.spots,
          eventSlotId: c.target.eventSlotId,
          cause: c.cause,
        })),
        now,
      );
      await this.enqueue(
        m,
        promoted.map((c) => [c.registrationId, 'promoted']),
      );
      return won;
    });
  }

  /** A promotion batch whose public step failed before anything was taken: release the claims. */
  async abandonPromotions(claims: PromotionClaim[], outcome: string): Promise<void> {
    if (claims.length === 0) return;
    await this.tx(async (m) => {
      const { held } = await this.lockHeld(
        m,
        claims.map((c) => [c.registrationId, c.sagaId]),
      );
      const ids = [...held];
      if (ids.length > 0) {
        await m.query(
          'UPDATE event_registrations SET pending_saga_id = NULL, updated_at = updated_at WHERE id IN (?)',
          [ids],
        );
      }
      await this.finishSagas(
        m,
        claims
          .filter((c) => held.has(c.registrationId))
          .map((c) => ({ sagaId: c.sagaId, state: 'failed', outcome })),
      );
    });
  }

  // ---- cancel -------------------------------------------------------------------------------

  /**
   * Step 1 of a cancel batch, one transaction: each registration (as the caller read it, same
   * version, no saga holding it) becomes cancelled with its history and notification, and gets
   * a saga row: `releasing` when it held a seat still to give back, else `done`. Those changed
   * meanwhile (or held by a saga) come back as undefined: busy, the caller reads and retries.
   */
  async beginCancels(
    items: { registration: Registration; actor: string; idempotencyScope?: string }[],
    leaseSeconds: number,
  ): Promise<(CancelIntent | undefined)[]> {
    return this.tx(async (m) => {
      const rows = await m.query<{ id: string; version: number; now: Date }[]>(
        `SELECT id, version, NOW(6) AS now FROM event_registrations
          WHERE id IN (?) AND pending_saga_id IS NULL AND status IN ('confirmed', 'waitlisted')
          FOR UPDATE`,
        [items.map((x) => x.registration.id)],
      );
      const now = rows[0]?.now ?? new Date();
      const current = new Map(rows.map((r) => [String(r.id), Number(r.version)]));
      const seen = new Set<string>();
      const claimed = items.filter((x) => {
        const ok =
          current.get(x.registration.id) === x.registration.version && !seen.has(x.registration.id);
        seen.add(x.registration.id);
        return ok;
      });
      if (claimed.length === 0) return items.map(() => undefined);
      await m.query(
        `UPDATE event_registrations SET status = 'cancelled', cancelled_at = ?, updated_at = ?,
                version = version + 1
          WHERE id IN (?)`,
        [now, now, claimed.map((x) => x.registration.id)],
      );
      const sagaIds = await this.insertSagas(
        m,
        claimed.map(({ registration: r, actor, idempotencyScope }) => {
          const owes = r.status === 'confirmed';
          return {
            registrationId: r.id,
            eventDateId: r.eventDateId,
            kind: 'cancel',
            state: owes ? 'releasing' : 'done',
            take: null,
            release: owes ? { ...targetOf(r), spots: r.spots } : null,
            plan: {
              eventHourId: r.eventHourId,
              eventSlotId: r.eventSlotId,
              partySize: r.partySize,
              spots: r.spots,
            },
            actor,
            idempotencyScope,
          };
        }),
        leaseSeconds,
      );
      await this.record(
        m,
        claimed.map(({ registration: r, actor }) => ({
          registrationId: r.id,
          eventDateId: r.eventDateId,
          actor,
          action: 'cancelled',
          fromStatus: r.status,
          toStatus: 'cancelled' as const,
          spots: r.spots,
          eventSlotId: r.eventSlotId,
        })),
        now,
      );
      await this.enqueue(
        m,
        claimed.map((x) => [x.registration.id, 'cancelled']),
      );
      // a registration named twice in one batch is cancelled once; the other request is busy,
      // reads it again and answers with the cancelled registration
      const bySaga = new Map(claimed.map((x, i) => [x, sagaIds[i]]));
      return items.map((x) => {
        const sagaId = bySaga.get(x);
        return sagaId
          ? {
              registration: x.registration,
              sagaId,
              owes: x.registration.status === 'confirmed',
              at: now,
            }
          : undefined;
      });
    });
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

  /** The targets among these (slot ids; null: the date booked as a whole) where someone waits. */
  async waitingTargets(
    eventDateId: number,
    slotIds: (number | null)[],
  ): Promise<Set<number | null>> {
    const slots = slotIds.filter((s): s is number => s !== null);
    const where = [
      ...(slots.length > 0 ? ['event_slot_id IN (?)'] : []),
      ...(slotIds.includes(null) ? ['event_slot_id IS NULL'] : []),
    ];
    if (where.length === 0) return new Set();
    const rows = await translatePrivateError(() =>
      this.db.query<{ slot: number | null }[]>(
        `SELECT DISTINCT event_slot_id AS slot FROM event_registrations
          WHERE event_date_id = ? AND status = 'waitlisted' AND (${where.join(' OR ')})`,
        slots.length > 0 ? [eventDateId, slots] : [eventDateId],
      ),
    );
    return new Set(rows.map((r) => (r.slot === null ? null : Number(r.slot))));
  }

  // ---- pieces -------------------------------------------------------------------------------

  private async insertRegistrations(
    m: EntityManager,
    inputs: NewRegistration[],
  ): Promise<{ id: string; createdAt: Date }[]> {
    const rows = await m.query<{ id: string | number; created_at: Date }[]>(
      `INSERT INTO event_registrations (household_id, event_id, event_date_id, event_hour_id,
         event_slot_id, status, party_size, spots, created_by, special_requirements)
       VALUES ${inputs.map(() => "(?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)").join(', ')}
       RETURNING id, created_at`,
      inputs.flatMap((input) => [
        input.householdId,
        input.eventId,
        input.target.eventDateId,
        input.target.eventHourId,
        input.target.eventSlotId,
        input.partySize,
        input.spots,
        input.actor,
        // written with the row, never copied into the saga row (see NewRegistration)
        input.specialRequirements,
      ]),
    );
    return rows.map((r) => ({ id: String(r.id), createdAt: r.created_at }));
  }

  // multi-row INSERT ... RETURNING: the ids come back in the order of the rows
  private async insertSagas(
    m: EntityManager,
    sagas: SagaInsert[],
    leaseSeconds: number,
  ): Promise<string[]> {
    const ids = await this.sagas.insertMany(
      m,
      sagas.map((s) => ({ ...s, leaseSeconds })),
    );
    const keyed = sagas
      .map((s, i) => [s.idempotencyScope, ids[i]] as const)
      .filter((x): x is [string, string] => x[0] !== undefined);
    if (keyed.length > 0) {
      // each request's Idempotency-Key points at its own saga
      const link = caseOf('scope_hash', keyed);
      await m.query(`UPDATE idempotency_keys SET saga_id = ${link.sql} WHERE scope_hash IN (?)`, [
        ...link.params,
        keyed.map(([scope]) => scope),
      ]);
    }
    return ids;
  }

  /**
   * Locks the registrations (in id order) and returns those still held by the given saga, with
   * the transaction's clock, so every row the batch writes carries the same instant.
   */
  private async lockHeld(
    m: EntityManager,
    pairs: [string, string][],
  ): Promise<{ held: Set<string>; now: Date }> {
    const rows = await m.query<{ id: string; pending_saga_id: string | null; now: Date }[]>(
      `SELECT id, pending_saga_id, NOW(6) AS now FROM event_registrations WHERE id IN (?)
        ORDER BY id FOR UPDATE`,
      [pairs.map(([id]) => id)],
    );
    const want = new Map(pairs);
    const held = new Set(
      rows
        .filter(
          (r) => r.pending_saga_id !== null && want.get(String(r.id)) === String(r.pending_saga_id),
        )
        .map((r) => String(r.id)),
    );
    const [clock] = rows.length > 0 ? rows : await m.query<{ now: Date }[]>('SELECT NOW(6) AS now');
    return { held, now: clock.now };
  }

  // How many of `wanted` may join the date's waitlist: all, unless it is disabled or limited
  // (the limit counts the date's waitlisted registrations under the settings row lock, so
  // concurrent batches cannot overshoot it).
  private async waitlistRoom(
    m: EntityManager,
    settings: DateSettings,
    wanted: number,
  ): Promise<number> {
    if (wanted === 0 || !settings.waitlistEnabled) return 0;
    if (settings.waitlistLimit === null) return wanted;
    await m.query('INSERT IGNORE INTO event_date_settings (event_date_id) VALUES (?)', [
      settings.eventDateId,
    ]);
    const [lock] = await m.query<{ waitlist_enabled: number; waitlist_limit: number | null }[]>(
      'SELECT waitlist_enabled, waitlist_limit FROM event_date_settings WHERE event_date_id = ? FOR UPDATE',
      [settings.eventDateId],
    );
    if (Number(lock.waitlist_enabled) !== 1) return 0;
    if (lock.waitlist_limit === null) return wanted;
    const [{ n }] = await m.query<{ n: string }[]>(
      "SELECT COUNT(*) AS n FROM event_registrations WHERE event_date_id = ? AND status = 'waitlisted'",
      [settings.eventDateId],
    );
    return Math.max(0, Math.min(wanted, lock.waitlist_limit - Number(n)));
  }

  private async finishSagas(
    m: EntityManager,
    outcomes: ({ sagaId: string; state: string; outcome: string } | undefined)[],
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

  private async actorsOf(m: EntityManager, sagaIds: string[]): Promise<Map<string, string>> {
    if (sagaIds.length === 0) return new Map();
    const rows = await m.query<{ id: string; actor: string }[]>(
      'SELECT id, actor FROM registration_sagas WHERE id IN (?)',
      [sagaIds],
    );
    return new Map(rows.map((r) => [String(r.id), r.actor]));
  }

  private async record(
    m: EntityManager,
    entries: {
      registrationId: string;
      eventDateId: number;
      actor: string;
      action: string;
      fromStatus: RegistrationStatus | null;
      toStatus: RegistrationStatus;
      spots: number;
      eventSlotId: number | null;
      cause?: string | null;
    }[],
    at: Date,
  ): Promise<void> {
    if (entries.length === 0) return;
    await m.query(
      `INSERT INTO registration_history (registration_id, event_date_id, at, actor, action,
         from_status, to_status, spots, event_slot_id, cause_registration_id) VALUES ?`,
      [
        entries.map((e) => [
          e.registrationId,
          e.eventDateId,
          at,
          e.actor,
          e.action,
          e.fromStatus,
          e.toStatus,
          e.spots,
          e.eventSlotId,
          e.cause ?? null,
        ]),
      ],
    );
  }

  // the payloads are assembled from the rows just written, in the same transaction
  private async enqueue(m: EntityManager, messages: [string, string][]): Promise<void> {
    const byKind = new Map<string, string[]>();
    for (const [id, kind] of messages) byKind.set(kind, [...(byKind.get(kind) ?? []), id]);
    for (const [kind, ids] of byKind) {
      await m.query(
        `INSERT INTO notification_outbox (household_id, registration_id, kind, payload)
         SELECT r.household_id, r.id, ?, JSON_OBJECT('registrationId', CAST(r.id AS CHAR),
           'householdId', CAST(r.household_id AS CHAR), 'kind', ?, 'status', r.status,
           'eventDateId', r.event_date_id, 'eventSlotId', r.event_slot_id, 'spots', r.spots,
           'at', DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ'))
           FROM event_registrations r WHERE r.id IN (?) ORDER BY r.id`,
        [kind, kind, ids],
      );
    }
  }
}

function alreadyRegistered(): DomainError {
  return new DomainError(
    'ALREADY_REGISTERED',
    'This household already has an active registration for this event date',
  );
}

function targetOf(r: CounterTarget): CounterTarget {
  return { eventDateId: r.eventDateId, eventHourId: r.eventHourId, eventSlotId: r.eventSlotId };
}

function groupBy<T>(items: T[], target: (item: T) => CounterTarget): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const t = target(item);
    const k = `${t.eventDateId}/${t.eventSlotId ?? '-'}`;
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return [...groups.values()];
}
