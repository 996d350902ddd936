import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { Page } from '../common/paging';
import { dateKeyToIso, isoToDateKey } from '../common/time';
import { AvailabilityRepository } from './availability.repository';
import { EventDateView, EventView, EventsQuery, HourView } from './schedule.dto';
import { ScheduleRepository } from './schedule.repository';
import { available, bookingLevel, isBookable, isVisible } from './schedule.rules';
import type { ScheduleSlot } from './schedule.types';

export type { EventDateView } from './schedule.dto';

const DEFAULT_RANGE_DAYS = 60;
const MAX_RANGE_DAYS = 366;

export const eventDateNotFound = (): DomainError =>
  new DomainError('EVENT_DATE_NOT_FOUND', 'No such event date');

// Visibility follows API.md where it is more specific than the public schema's comments:
// - the schema says that after published_end_datetime a date "is no longer public", but API.md
//   says a past or ended date is still shown by id (a household looks back at its
//   registrations), with acceptReservations false; it is left out of the listing only.
// - the event-level `event_accept_resesrvations` is not consulted: API.md names only the date's
//   accept_reservations as the switch that closes a date.
@Injectable()
export class ScheduleService {
  constructor(
    private readonly schedule: ScheduleRepository,
    private readonly availability: AvailabilityRepository,
  ) {}

  /** The availability of one date, public and private figures together; one call for callers. */
  async getEventDate(id: number, now: Date = new Date()): Promise<EventDateView> {
    const date = await this.schedule.findDate(id);
    if (!date || !isVisible(date, now)) throw eventDateNotFound();
    const [settings, waitlist] = await Promise.all([
      this.availability.settings(id),
      this.availability.waitlistCounts(id),
    ]);
    const level = bookingLevel(date);
    const hours: HourView[] =
      level === 'date'
        ? []
        : date.hours.map((hour) => ({
            id: hour.id,
            ...timesAndRoom(hour),
            slots: hour.slots.map((slot) => ({
              id: slot.id,
              ...timesAndRoom(slot),
              waitlistLength: waitlist.bySlot.get(slot.id) ?? 0,
            })),
          }));
    return {
      id: date.id,
      eventId: date.eventId,
      eventName: date.eventName,
      date: dateKeyToIso(date.dateKey),
      ...timesAndRoom(date),
      acceptReservations: isBookable(date, now),
      bookingLevel: level,
      capacityUnit: settings.capacityUnit,
      waitlist: { enabled: settings.waitlistEnabled, length: waitlist.total },
      hours,
    };
  }

  /** Published, active events with the dates that can be booked now, paged by event. */
  async listEvents(query: EventsQuery, now: Date = new Date()): Promise<Page<EventView>> {
    const from = query.from ?? now.toISOString().slice(0, 10);
    const to = query.to ?? addDays(from, DEFAULT_RANGE_DAYS);
    if (to < from) {
      throw new DomainError('VALIDATION_FAILED', 'The request is not valid', {
        details: [{ field: 'to', problems: ['to must not be before from'] }],
      });
    }
    if (to > addDays(from, MAX_RANGE_DAYS)) {
      throw new DomainError('VALIDATION_FAILED', 'The request is not valid', {
        details: [{ field: 'to', problems: [`the range may span at most ${MAX_RANGE_DAYS} days`] }],
      });
    }
    const dates = await this.schedule.findDatesInRange(
      isoToDateKey(from),
      isoToDateKey(to),
      query.zip,
    );
    const events = new Map<number, EventView>();
    for (const date of dates) {
      if (!isBookable(date, now)) continue;
      let event = events.get(date.eventId);
      if (!event) {
        event = { id: date.eventId, name: date.eventName, zip: date.zip, dates: [] };
        events.set(date.eventId, event);
      }
      event.dates.push({
        id: date.id,
        date: dateKeyToIso(date.dateKey),
        ...timesAndRoom(date),
        bookingLevel: bookingLevel(date),
      });
    }
    // events in the order of their first bookable date, then id: stable across pages
    const all = [...events.values()];
    const start = (query.page - 1) * query.pageSize;
    return {
      items: all.slice(start, start + query.pageSize),
      total: all.length,
      page: query.page,
      pageSize: query.pageSize,
    };
  }
}

/** A date's, hour's or slot's times and room, as every view shows them. */
function timesAndRoom(row: Pick<ScheduleSlot, 'startTime' | 'endTime' | 'capacity' | 'reserved'>) {
  return {
    startTime: row.startTime,
    endTime: row.endTime,
    capacity: row.capacity,
    reserved: row.reserved,
    available: available(row.capacity, row.reserved),
  };
}

function addDays(iso: string, days: number): string {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}
