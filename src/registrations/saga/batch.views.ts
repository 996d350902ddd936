import type { Registration } from '../registration.types';
import type { CancelIntent, Intent } from './batch/batch.types';

// What a request of a batch is answered, built from what its batch wrote (no read back).

function base(intent: Intent): Omit<Registration, 'status' | 'updatedAt' | 'waitlistPosition'> {
  const input = intent.input;
  return {
    id: intent.registrationId,
    householdId: input.householdId,
    eventId: input.eventId,
    eventDateId: input.target.eventDateId,
    eventHourId: input.target.eventHourId,
    eventSlotId: input.target.eventSlotId,
    partySize: input.partySize,
    spots: input.spots,
    queuedAt: null,
    pendingSagaId: null,
    version: 2,
    createdBy: input.actor,
    createdAt: intent.createdAt,
    confirmedAt: null,
    cancelledAt: null,
    checkedInAt: null,
    specialRequirements: input.specialRequirements,
    memberIds: input.memberIds,
  };
}

export function settledView(
  intent: Intent,
  status: 'confirmed' | 'waitlisted',
  at: Date,
  position: number | null,
): Registration {
  return {
    ...base(intent),
    status,
    updatedAt: at,
    confirmedAt: status === 'confirmed' ? at : null,
    queuedAt: status === 'waitlisted' ? intent.createdAt : null,
    waitlistPosition: position,
  };
}

// a registration refused for want of room was removed; only the outcome is answered
export function pendingView(intent: Intent): Registration {
  return { ...base(intent), status: 'failed', updatedAt: intent.createdAt, waitlistPosition: null };
}

export function cancelledView(c: CancelIntent): Registration {
  return {
    ...c.registration,
    status: 'cancelled',
    cancelledAt: c.at,
    updatedAt: c.at,
    version: c.registration.version + 1,
    pendingSagaId: null,
    waitlistPosition: null,
  };
}
