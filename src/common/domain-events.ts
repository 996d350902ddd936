import { Injectable } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';

// In-process notification that a committed change happened. Emitted only after the private
// (and public) transactions of a change have committed; consumers (real time, metrics) fan
// them out. Durable notifications go through the outbox table instead, written in the same
// private transaction as the change.

export type RegistrationAction =
  | 'created'
  | 'confirmed'
  | 'waitlisted'
  | 'promoted'
  | 'moved'
  | 'resized'
  | 'cancelled'
  | 'checked_in'
  | 'waitlist_closed'
  | 'position_changed';

export interface RegistrationChanged {
  type: 'registration';
  registrationId: string;
  householdId: string;
  eventDateId: number;
  eventSlotId: number | null;
  status: string;
  waitlistPosition: number | null;
  action: RegistrationAction;
  at: Date;
}

/** The counters or waitlists of a date changed (registration, cancel, move, backfill...). */
export interface AvailabilityChanged {
  type: 'availability';
  eventDateId: number;
  at: Date;
}

export type DomainEvent = RegistrationChanged | AvailabilityChanged;

@Injectable()
export class DomainEvents {
  private readonly subject = new Subject<DomainEvent>();

  get stream(): Observable<DomainEvent> {
    return this.subject.asObservable();
  }

  emit(event: DomainEvent): void {
    this.subject.next(event);
  }
}
