import { todayKey } from '../common/time';
import { BookingLevel, ScheduleDate, ScheduleSlot } from './schedule.types';

// Visibility and bookability rules from the contract, kept pure so they are unit-tested.

/** Shown by id: the date and its event are active and published (past or not). */
export function isVisible(date: ScheduleDate, now: Date = new Date()): boolean {
  return (
    date.statusId === 1 &&
    date.statusPublish === 1 &&
    date.eventStatusId === 1 &&
    date.eventPublished === 1 &&
    date.eventDatesPublished === 1 &&
    date.publishedDateKey <= todayKey(now)
  );
}

/** Can be booked now: visible, accepting reservations, not past, not ended. */
export function isBookable(date: ScheduleDate, now: Date = new Date()): boolean {
  return (
    isVisible(date, now) &&
    date.acceptReservations === 1 &&
    date.dateKey >= todayKey(now) &&
    (date.publishedEndDatetime === null || date.publishedEndDatetime.getTime() > now.getTime())
  );
}

export function bookingLevel(date: ScheduleDate): BookingLevel {
  return date.hours.length > 0 ? 'slot' : 'date';
}

export function findSlot(date: ScheduleDate, slotId: number): ScheduleSlot | undefined {
  for (const hour of date.hours) {
    const slot = hour.slots.find((s) => s.id === slotId);
    if (slot) return slot;
  }
  return undefined;
}

export function available(capacity: number, reserved: number): number {
  return Math.max(0, capacity - reserved);
}
