import { DomainEvents, RegistrationAction, RegistrationChanged } from '../common/domain-events';
import type { Registration } from './registration.types';

/** A registration changed and its date's availability with it (after the commit). */
export function announce(events: DomainEvents, r: Registration, action: RegistrationAction): void {
  const at = new Date();
  events.emit(registrationChanged(r, action, at));
  events.emit({ type: 'availability', eventDateId: r.eventDateId, at });
}

/** Every waitlisted registration of a target with its position, after its queue moved. */
export function announcePositions(events: DomainEvents, waiting: Registration[]): void {
  const at = new Date();
  for (const r of waiting) events.emit(registrationChanged(r, 'position_changed', at));
}

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
