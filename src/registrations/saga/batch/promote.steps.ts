import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../../../database/database.constants';
import { NotificationOutboxRepository } from '../../../notifications/notification-outbox.repository';
import type { CounterTarget } from '../../../schedule/schedule.types';
import { RegistrationBatchRepository } from '../../registration-batch.repository';
import { RegistrationHistoryRepository } from '../../registration-history.repository';
import { SagaRepository } from '../saga.repository';
import { abandonHeld, batchTransaction } from './batch.transaction';
import type { PromotionClaim } from './batch.types';

// The private steps of a promotion batch (registration.batch.ts), each ONE transaction for the
// whole batch over the table repositories, with one `promote` saga row per registration.
@Injectable()
export class PromoteSteps {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly rows: RegistrationBatchRepository,
    private readonly sagas: SagaRepository,
    private readonly history: RegistrationHistoryRepository,
    private readonly outbox: NotificationOutboxRepository,
  ) {}

  /**
   * Step 1: claims the given waitlisted registrations that no saga holds, one `promote` saga
   * each (taking), in one transaction. Those already claimed or no longer waitlisted are
   * skipped. Returned in the order given (the queue order).
   */
  async claim(
    candidates: { id: string; spots: number }[],
    target: CounterTarget,
    actor: string,
    leaseSeconds: number,
    cause: string | null = null,
  ): Promise<PromotionClaim[]> {
    if (candidates.length === 0) return [];
    return batchTransaction(this.db, async (m) => {
      const locked = await this.rows.lockPromotable(
        m,
        candidates.map((c) => c.id),
        target,
      );
      const claimable = candidates.flatMap((c) => {
        const row = locked.get(c.id);
        return row ? [{ id: c.id, ...row }] : [];
      });
      if (claimable.length === 0) return [];
      const sagaIds = await this.sagas.insertMany(
        m,
        claimable.map((c) => ({
          registrationId: c.id,
          eventDateId: target.eventDateId,
          kind: 'promote',
          state: 'taking',
          take: { ...target, spots: c.spots },
          release: null,
          plan: {
            eventHourId: target.eventHourId,
            eventSlotId: target.eventSlotId,
            partySize: c.partySize,
            spots: c.spots,
            // in the plan, so a promotion recovery finishes records its cause too
            ...(cause === null ? {} : { cause }),
          },
          actor,
          leaseSeconds,
        })),
      );
      await this.rows.claimLocked(
        m,
        claimable.map((c, i) => [c.id, sagaIds[i]]),
      );
      return claimable.map((c, i) => ({
        registrationId: c.id,
        sagaId: sagaIds[i],
        spots: c.spots,
        partySize: c.partySize,
        target,
        cause,
      }));
    });
  }

  /**
   * Step 3: the granted become confirmed (history `promoted`, a notification each); the others
   * stay waitlisted, in their place, unclaimed. Returns, per claim, whether it is now confirmed
   * by this batch (false also when recovery took it over).
   */
  async settle(claims: PromotionClaim[], granted: boolean[]): Promise<boolean[]> {
    return batchTransaction(this.db, async (m) => {
      const { held, now } = await this.rows.lockHeld(
        m,
        claims.map((c) => [c.registrationId, c.sagaId]),
      );
      const won = claims.map((c, i) => held.has(c.registrationId) && granted[i]);
      const stay = claims.filter((c, i) => held.has(c.registrationId) && !granted[i]);
      const promoted = claims.filter((_, i) => won[i]);
      if (promoted.length > 0) await this.rows.promoteHeld(m, idsOf(promoted), now);
      if (stay.length > 0) await this.rows.releaseHeld(m, idsOf(stay));
      await this.sagas.finishMany(m, [
        ...promoted.map((c) => ({
          sagaId: c.sagaId,
          state: 'done' as const,
          outcome: 'confirmed',
        })),
        ...stay.map((c) => ({
          sagaId: c.sagaId,
          state: 'failed' as const,
          outcome: 'CAPACITY_FULL',
        })),
      ]);
      const actor = await this.sagas.actorsOf(
        m,
        promoted.map((c) => c.sagaId),
      );
      await this.history.recordMany(
        m,
        promoted.map((c) => ({
          registrationId: c.registrationId,
          eventDateId: c.target.eventDateId,
          actor: actor.get(c.sagaId) ?? 'system',
          action: 'promoted',
          fromStatus: 'waitlisted',
          toStatus: 'confirmed',
          spots: c.spots,
          eventSlotId: c.target.eventSlotId,
          cause: c.cause,
        })),
        now,
      );
      await this.outbox.enqueueMany(m, idsOf(promoted), 'promoted');
      return won;
    });
  }

  /** A promotion batch whose public step failed before anything was taken: release the claims. */
  async abandon(claims: PromotionClaim[], outcome: string): Promise<void> {
    const repos = { rows: this.rows, sagas: this.sagas };
    await abandonHeld(this.db, repos, claims, outcome, (m, ids) => this.rows.releaseHeld(m, ids));
  }
}

function idsOf(claims: PromotionClaim[]): string[] {
  return claims.map((c) => c.registrationId);
}
