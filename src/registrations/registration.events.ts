import type { RegistrationAction, RegistrationChanged } from '../common/domain-events';
import type { Registration } from './registration.types';

/** The real-time event of a registration change (participant and staff routes alike). */
export function registrationChanged(
  r: Registration,
  action: RegistrationAction,
  at: Date,
): RegistrationChanged {
  return {
    type: 'registration',
    registrationId: r.id,
    householdId: r.householdId,
    eventDateId: r.eventDateId,
    eventSlotId: r.eventSlotId,
    status: r.status,
    waitlistPosition: r.waitlistPosition,
    action,
    at,
  };
}
