import type { CounterTarget } from '../../schedule/schedule.types';
import type { RegistrationStatus } from '../registration.types';

/** The actor recorded for what the service does on its own (a promotion another change caused). */
export const SYSTEM_ACTOR = 'system';

export type SagaKind = 'register' | 'promote' | 'change' | 'cancel';
export type SagaState = 'taking' | 'releasing' | 'done' | 'failed';

/** What the registration becomes once the take leg succeeds. */
export interface SagaPlan {
  eventHourId: number | null;
  eventSlotId: number | null;
  partySize: number;
  spots: number;
  memberIds?: string[];
  /** promote only: the registration whose cancel, move or smaller party freed the room */
  cause?: string;
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
  /** seconds until the lease is over (negative once it is) */
  leaseSecondsLeft: number;
}

/** A saga row about to be written (step 1 of every saga). */
export type NewSaga = Pick<
  SagaRow,
  'registrationId' | 'eventDateId' | 'kind' | 'state' | 'take' | 'release' | 'plan' | 'actor'
> & { idempotencyScope?: string; leaseSeconds: number };

export interface HistoryEntry {
  action: string;
  fromStatus: RegistrationStatus | null;
  toStatus: RegistrationStatus;
  spots: number;
  eventSlotId: number | null;
  /** the registration whose change caused this one (a promotion after a cancel) */
  cause?: string | null;
}

export interface OutboxMessage {
  kind: 'confirmed' | 'waitlisted' | 'promoted' | 'cancelled' | 'moved' | 'resized';
}

/** Another saga holds the registration (or it changed under us): nothing was written. */
export interface Busy {
  kind: 'busy';
}

/** Recovery took the saga over: its fenced update matched nothing, nothing was written. */
export interface Lost {
  kind: 'lost';
}

/** Step 1 on an existing registration: it is now this saga's, or someone else's. */
export type Claim = { kind: 'claimed'; sagaId: string } | Busy;

/** The take found no room: the newcomer waits, or the registration is refused / unchanged. */
export type NoRoom = { kind: 'waitlisted' } | { kind: 'full' } | Lost;

export type ChangeOutcome = { kind: 'changed' } | { kind: 'full' } | Busy;
