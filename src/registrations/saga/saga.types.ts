import type { CounterTarget } from '../../schedule/schedule.types';
import type { RegistrationStatus } from '../registration.types';

export type SagaKind = 'register' | 'promote' | 'change' | 'cancel';
export type SagaState = 'taking' | 'releasing' | 'done' | 'failed';

/** What the registration becomes once the take leg succeeds. */
export interface SagaPlan {
  eventHourId: number | null;
  eventSlotId: number | null;
  partySize: number;
  spots: number;
  memberIds?: string[];
  /** register only: may it join the waitlist when there is no room */
  joinWaitlist?: boolean;
  /**
   * A move within the date that keeps its spots: it takes only the counters it newly occupies
   * (the new slot, and the new hour if it differs) and gives back only those it leaves, so a
   * full hour or date does not refuse a move that leaves their totals unchanged.
   */
  netMove?: boolean;
  /**
   * change only: the new special requirements (null clears), applied in the same private
   * transaction as the change, so a refused change leaves them as they were. Removed from the
   * saga row once the saga ends (SagaRepository), so no copy of the text outlives it there.
   */
  specialRequirements?: string | null;
}

/** What a new registration is made of (step 1 of the register saga). */
export interface NewRegistration {
  householdId: string;
  eventId: number;
  target: CounterTarget;
  partySize: number;
  spots: number;
  memberIds: string[];
  joinWaitlist: boolean;
  /** written with the row in step 1; never copied into the saga row */
  specialRequirements: string | null;
  actor: string;
  idempotencyScope?: string;
}

export interface Leg extends CounterTarget {
  spots: number;
}

export interface SagaRow {
  id: string;
  registrationId: string;
  eventDateId: number;
  kind: SagaKind;
  state: SagaState;
  take: Leg | null;
  release: Leg | null;
  plan: SagaPlan;
  actor: string;
  idempotencyScope: string | null;
  outcome: string | null;
  leaseExpired: boolean;
}

/** A saga row about to be written (step 1 of every saga). */
export interface NewSaga {
  registrationId: string;
  eventDateId: number;
  kind: SagaKind;
  state: SagaState;
  take: Leg | null;
  release: Leg | null;
  plan: SagaPlan;
  actor: string;
  idempotencyScope?: string;
  leaseSeconds: number;
}

export interface HistoryEntry {
  action: string;
  fromStatus: RegistrationStatus | null;
  toStatus: RegistrationStatus;
  spots: number;
  eventSlotId: number | null;
}

export interface OutboxMessage {
  kind: 'confirmed' | 'waitlisted' | 'promoted' | 'cancelled' | 'moved' | 'resized';
}
