import { CounterKey, countersOf, countersOnlyIn } from '../../schedule/public-counter.repository';
import type { CounterTarget } from '../../schedule/schedule.types';
import type { Registration } from '../registration.types';
import type { HistoryEntry, Leg, OutboxMessage, SagaPlan, SagaRow } from './saga.types';

/**
 * What a change of party or slot must take and give back. Holding a seat (confirmed): a move
 * takes the new seat and releases the old one (a net move when the spots stay the same), a
 * bigger party takes the difference, a smaller one releases it. Waitlisted: a move only into a
 * seat (taken whole, confirmed there or refused); a party change moves no counter.
 */
export function legsOfChange(
  r: Registration,
  plan: SagaPlan,
): { take: Leg | null; release: Leg | null; netMove: boolean } {
  const holds = r.status === 'confirmed';
  const moving = plan.eventSlotId !== r.eventSlotId;
  const target: CounterTarget = {
    eventDateId: r.eventDateId,
    eventHourId: plan.eventHourId,
    eventSlotId: plan.eventSlotId,
  };
  const old = targetOf(r);
  if (holds && moving) {
    return {
      take: { ...target, spots: plan.spots },
      release: { ...old, spots: r.spots },
      netMove: plan.spots === r.spots,
    };
  }
  if (holds && plan.spots > r.spots) {
    return { take: { ...target, spots: plan.spots - r.spots }, release: null, netMove: false };
  }
  if (holds && plan.spots < r.spots) {
    return { take: null, release: { ...target, spots: r.spots - plan.spots }, netMove: false };
  }
  if (!holds && moving)
    return { take: { ...target, spots: plan.spots }, release: null, netMove: false };
  return { take: null, release: null, netMove: false };
}

type Legs = Pick<SagaRow, 'take' | 'release' | 'plan'>;

// a net move takes only what it newly occupies and gives back only what it leaves
export function takeKeysOf(saga: Legs): CounterKey[] {
  if (!saga.take) return [];
  return saga.plan.netMove && saga.release
    ? countersOnlyIn(saga.take, saga.release)
    : countersOf(saga.take);
}

export function releaseKeysOf(saga: Legs): CounterKey[] {
  if (!saga.release) return [];
  return saga.plan.netMove && saga.take
    ? countersOnlyIn(saga.release, saga.take)
    : countersOf(saga.release);
}

/** What a change records once applied: its history action and its notification. */
export function changeRecord(moving: boolean): {
  history: Pick<HistoryEntry, 'action' | 'toStatus'>;
  outbox: OutboxMessage;
} {
  return {
    history: { action: moving ? 'moved' : 'party_changed', toStatus: 'confirmed' },
    outbox: { kind: moving ? 'moved' : 'resized' },
  };
}

/** The target a registration or leg occupies (its counters: countersOf). */
export function targetOf(r: CounterTarget): CounterTarget {
  return { eventDateId: r.eventDateId, eventHourId: r.eventHourId, eventSlotId: r.eventSlotId };
}

/** One key per target, for sets of targets. */
export const targetKey = (t: CounterTarget): string => `${t.eventDateId}/${t.eventSlotId ?? '-'}`;
