import type { AuthUser } from '../auth/auth-user';
import type { IdempotentRequest } from '../idempotency/idempotency.interceptor';
import type { CounterTarget } from '../schedule/schedule.types';

export type RegistrationStatus =
  'pending' | 'confirmed' | 'waitlisted' | 'cancelled' | 'checked_in' | 'failed';

/** Statuses that occupy the household's one registration per date. */
export const ACTIVE_STATUSES: RegistrationStatus[] = [
  'pending',
  'confirmed',
  'waitlisted',
  'checked_in',
];

export type CapacityUnit = 'household' | 'person';

export interface DateSettings {
  eventDateId: number;
  waitlistEnabled: boolean;
  waitlistLimit: number | null;
  capacityUnit: CapacityUnit;
}

export const DEFAULT_SETTINGS: Omit<DateSettings, 'eventDateId'> = {
  waitlistEnabled: true,
  waitlistLimit: null,
  capacityUnit: 'household',
};

export interface Registration extends CounterTarget {
  id: string;
  householdId: string;
  eventId: number;
  status: RegistrationStatus;
  partySize: number;
  spots: number;
  queuedAt: Date | null;
  pendingSagaId: string | null;
  version: number;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  confirmedAt: Date | null;
  cancelledAt: Date | null;
  checkedInAt: Date | null;
  /** free text for the pantry; may be health information: never logged or broadcast */
  specialRequirements: string | null;
  memberIds: string[];
  waitlistPosition: number | null;
}

/** The API shape of a registration (contract: "A registration"). */
export interface RegistrationView {
  id: string;
  householdId: string;
  eventId: number;
  eventDateId: number;
  eventHourId: number | null;
  eventSlotId: number | null;
  status: RegistrationStatus;
  waitlistPosition: number | null;
  memberIds: string[];
  partySize: number;
  spots: number;
  createdAt: string;
  updatedAt: string;
  cancelledAt: string | null;
  checkedInAt: string | null;
  specialRequirements: string | null;
}

export function toView(r: Registration): RegistrationView {
  return {
    id: r.id,
    householdId: r.householdId,
    eventId: r.eventId,
    eventDateId: r.eventDateId,
    eventHourId: r.eventHourId,
    eventSlotId: r.eventSlotId,
    status: r.status,
    waitlistPosition: r.status === 'waitlisted' ? r.waitlistPosition : null,
    memberIds: r.memberIds,
    partySize: r.partySize,
    spots: r.spots,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    cancelledAt: r.cancelledAt ? r.cancelledAt.toISOString() : null,
    checkedInAt: r.checkedInAt ? r.checkedInAt.toISOString() : null,
    specialRequirements: r.specialRequirements,
  };
}

/** Who did it and on behalf of which request; recorded in history and sagas. */
export interface Actor {
  sub: string;
  isStaff: boolean;
  idempotencyScope?: string;
}

/** The actor of a request: its verified user, as a participant or (on the staff routes) staff. */
export function actorOf(
  user: AuthUser,
  request: IdempotentRequest,
  as: 'participant' | 'staff',
): Actor {
  return { sub: user.sub, isStaff: as === 'staff', idempotencyScope: request.idempotencyScope };
}
