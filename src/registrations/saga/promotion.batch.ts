import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { Failpoints } from '../../common/failpoints';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { countersOf, PublicCounterRepository } from '../../schedule/public-counter.repository';
import type { CounterTarget } from '../../schedule/schedule.types';
import { announce, announcePositions } from '../registration.events';
import { RegistrationRepository } from '../registration.repository';
import { WaitlistRepository } from '../waitlist.repository';
import { PromotionClaim } from './batch/batch.types';
import { PromoteSteps } from './batch/promote.steps';
import { CounterStep, settleError } from './counter.step';
import { targetKey } from './saga.legs';

// The promotions of a batch (registration.batch.ts): the waitlisted registrations that fit now
// are claimed (one `promote` saga each), take their seats in one public allocation and are
// settled in one private transaction, as a batch's registrations are.
@Injectable()
export class PromotionBatch {
  private readonly logger = new Logger(PromotionBatch.name);
  private readonly leaseSeconds: number;

  constructor(
    private readonly promoteSteps: PromoteSteps,
    private readonly registrations: RegistrationRepository,
    private readonly waitlist: WaitlistRepository,
    private readonly counters: PublicCounterRepository,
    private readonly counterStep: CounterStep,
    private readonly failpoints: Failpoints,
    private readonly metrics: MetricsService,
    private readonly events: DomainEvents,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.leaseSeconds = config.sagaGraceSeconds;
  }

  /** The freed targets first, then every other queue of the date. */
  async promoteDate(
    eventDateId: number,
    actor: string,
    first: CounterTarget[],
    cause?: string,
  ): Promise<string[]> {
    const promoted: string[] = [];
    const done = new Set<string>();
    for (const t of first) {
      done.add(targetKey(t));
      promoted.push(...(await this.promoteTarget(t, actor, cause)));
    }
    // only the queues that exist: a cancel must not walk every slot of the date
    for (const t of await this.waitlist.targets(eventDateId)) {
      if (done.has(targetKey(t))) continue;
      promoted.push(...(await this.promoteTarget(t, actor, cause)));
    }
    return promoted;
  }

  /**
   * Confirms the oldest waitlisted registrations of a target that fit (first fit by place: a
   * party too large for the room is passed over). A read of the counters only picks whom to
   * claim; the public step decides under the rows' locks, as for registrations.
   */
  async promoteTarget(target: CounterTarget, actor: string, cause?: string): Promise<string[]> {
    const promoted: string[] = [];
    for (let round = 0; round < 100; round++) {
      const rows = await this.counters.read(countersOf(target));
      let room = Math.min(...rows.map((c) => c.capacity - c.reserved));
      if (!Number.isFinite(room) || room <= 0) break;
      const candidates = await this.waitlist.candidates(target.eventDateId, target.eventSlotId, 50);
      const pick = candidates.filter((c) => {
        if (c.spots > room) return false;
        room -= c.spots;
        return true;
      });
      if (pick.length === 0) break;
      const claims = await this.promoteSteps.claim(
        pick,
        target,
        actor,
        this.leaseSeconds,
        cause ?? null,
      );
      if (claims.length === 0) break;
      const won = await this.promoteClaims(claims);
      promoted.push(...claims.filter((_, k) => won[k]).map((c) => c.registrationId));
      if (!won.some(Boolean)) break;
    }
    if (promoted.length > 0) {
      this.metrics.waitlistPromotions(promoted.length);
      for (const id of promoted) {
        const registration = await this.registrations.findById(id);
        if (registration) announce(this.events, registration, 'promoted');
      }
      await this.announceQueue(target);
    }
    return promoted;
  }

  /** Everyone still waiting in a queue learns their position (events; failures only logged). */
  async announceQueue(target: CounterTarget): Promise<void> {
    try {
      announcePositions(
        this.events,
        await this.waitlist.ofTarget(target.eventDateId, target.eventSlotId),
      );
    } catch (error) {
      this.logger.warn({ err: String(error) }, 'position events skipped');
    }
  }

  private async promoteClaims(claims: PromotionClaim[]): Promise<boolean[]> {
    const claimOf = (c: PromotionClaim) => ({ keys: countersOf(c.target), spots: c.spots });
    const granted = await this.counterStep.take('promote', claims.map(claimOf), () =>
      this.promoteSteps.abandon(claims, 'ABANDONED'),
    );
    let won: boolean[];
    try {
      won = await this.promoteSteps.settle(claims, granted);
    } catch (error) {
      await this.counterStep.afterFailedSettle(
        'promote',
        error,
        claims.map((c, k) => ({ claim: claimOf(c), granted: granted[k] })),
        () => this.promoteSteps.abandon(claims, 'COMPENSATED'),
      );
      throw settleError(error);
    }
    // granted but not won: recovery took the saga over and counts without our take
    await this.counterStep.giveBackLost(
      claims.filter((_, k) => granted[k] && !won[k]).map(claimOf),
    );
    this.failpoints.hit('take.after-confirm');
    return won;
  }
}
