import { Registration, RegistrationStatus } from './registration.types';

export interface RawRegistration {
  id: string;
  household_id: string;
  event_id: number;
  event_date_id: number;
  event_hour_id: number | null;
  event_slot_id: number | null;
  status: RegistrationStatus;
  party_size: number;
  spots: number;
  queued_at: Date | null;
  pending_saga_id: string | null;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  confirmed_at: Date | null;
  cancelled_at: Date | null;
  checked_in_at: Date | null;
  special_requirements: string | null;
  member_ids: string | null;
  waitlist_position: number | string | null;
}

// A registration row with its members and its 1-based waitlist position: how many of its
// target's waitlisted registrations hold a place up to its own. Places are handed out in
// commit order under the target's queue row lock (WaitlistRepository.assignPlaces), so they
// are unique per target and a position told is the position read back until someone ahead
// leaves.
export const SELECT_REGISTRATION = `
  SELECT r.*,
    (SELECT GROUP_CONCAT(m.member_id ORDER BY m.member_id) FROM event_registration_members m
      WHERE m.registration_id = r.id) AS member_ids,
    IF(r.status = 'waitlisted',
      (SELECT COUNT(*) FROM event_registrations w
        WHERE w.event_date_id = r.event_date_id AND w.event_slot_id <=> r.event_slot_id
          AND w.status = 'waitlisted' AND w.queue_place <= r.queue_place),
      NULL) AS waitlist_position
  FROM event_registrations r`;

export function toRegistration(row: RawRegistration): Registration {
  return {
    id: String(row.id),
    householdId: String(row.household_id),
    eventId: row.event_id,
    eventDateId: row.event_date_id,
    eventHourId: row.event_hour_id,
    eventSlotId: row.event_slot_id,
    status: row.status,
    partySize: row.party_size,
    spots: row.spots,
    queuedAt: row.queued_at,
    pendingSagaId: row.pending_saga_id === null ? null : String(row.pending_saga_id),
    version: row.version,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    confirmedAt: row.confirmed_at,
    cancelledAt: row.cancelled_at,
    checkedInAt: row.checked_in_at,
    specialRequirements: row.special_requirements ?? null,
    memberIds: row.member_ids ? row.member_ids.split(',') : [],
    waitlistPosition: row.waitlist_position === null ? null : Number(row.waitlist_position),
  };
}
