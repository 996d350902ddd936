// The schedule as read from the public database, with times resolved through dim_times.
export interface ScheduleSlot {
  id: number;
  hourId: number;
  capacity: number;
  reserved: number;
  startTime: string | null;
  endTime: string | null;
}

export interface ScheduleHour {
  id: number;
  capacity: number;
  reserved: number;
  startTime: string | null;
  endTime: string | null;
  slots: ScheduleSlot[];
}

export interface ScheduleDate {
  id: number;
  eventId: number;
  eventName: string;
  /** events.time_zone as the schedule stores it: an IANA name, or '' when not set */
  timeZone: string;
  zip: string;
  dateKey: number;
  capacity: number;
  reserved: number;
  startTime: string | null;
  endTime: string | null;
  statusPublish: number;
  acceptReservations: number;
  publishedDateKey: number;
  publishedEndDatetime: Date | null;
  statusId: number;
  eventPublished: number;
  eventDatesPublished: number;
  eventStatusId: number;
  /** active hours that have at least one active slot; empty for a date booked at date level */
  hours: ScheduleHour[];
}

export type BookingLevel = 'slot' | 'date';

/** The counters one registration occupies: slot, hour and date, or the date alone. */
export interface CounterTarget {
  eventDateId: number;
  eventHourId: number | null;
  eventSlotId: number | null;
}
