import { DomainError } from '../common/domain-error';
import {
  AvailabilityRepository,
  DEFAULT_DATE_SETTINGS,
  WaitlistCounts,
} from './availability.repository';
import { EventsQuery } from './schedule.dto';
import { ScheduleRepository } from './schedule.repository';
import { ScheduleService } from './schedule.service';
import { ScheduleDate } from './schedule.types';

const NOW = new Date('2026-11-22T15:00:00Z');

const scheduleDate = (overrides: Partial<ScheduleDate> = {}): ScheduleDate => ({
  id: 12,
  eventId: 3,
  eventName: 'Community Pantry',
  timeZone: '',
  zip: '43215',
  dateKey: 20261201,
  capacity: 100,
  reserved: 97,
  startTime: '09:00',
  endTime: '12:00',
  statusPublish: 1,
  acceptReservations: 1,
  publishedDateKey: 20261101,
  publishedEndDatetime: null,
  statusId: 1,
  eventPublished: 1,
  eventDatesPublished: 1,
  eventStatusId: 1,
  hours: [],
  ...overrides,
});

const query = (overrides: Partial<EventsQuery> = {}): EventsQuery =>
  Object.assign(new EventsQuery(), overrides);

function makeSut(dates: ScheduleDate[], waitlist: Partial<WaitlistCounts> = {}) {
  const ranges: [number, number, string | undefined][] = [];
  const schedule = {
    findDate: (id: number) => Promise.resolve(dates.find((d) => d.id === id)),
    findDatesInRange: (from: number, to: number, zip?: string) => {
      ranges.push([from, to, zip]);
      return Promise.resolve(dates);
    },
  } as unknown as ScheduleRepository;
  const availability = {
    settings: () => Promise.resolve({ ...DEFAULT_DATE_SETTINGS }),
    waitlistCounts: () =>
      Promise.resolve({ bySlot: new Map(), dateLevel: 0, total: 0, ...waitlist }),
  } as unknown as AvailabilityRepository;
  return { sut: new ScheduleService(schedule, availability), ranges };
}

describe(ScheduleService.name, () => {
  describe('getEventDate', () => {
    it('is bookable only until published_end_datetime, and still shown after it', async () => {
      const end = new Date(NOW.getTime() + 60_000);
      const { sut } = makeSut([scheduleDate({ publishedEndDatetime: end })]);
      expect((await sut.getEventDate(12, NOW)).acceptReservations).toBe(true);
      expect((await sut.getEventDate(12, end)).acceptReservations).toBe(false);
    });

    it('does not count available below zero when a counter is over capacity', async () => {
      const { sut } = makeSut([scheduleDate({ capacity: 10, reserved: 12 })]);
      expect((await sut.getEventDate(12, NOW)).available).toBe(0);
    });

    it('throws EVENT_DATE_NOT_FOUND for a date that is not public yet', async () => {
      const { sut } = makeSut([scheduleDate({ publishedDateKey: 20261123 })]);
      await expect(sut.getEventDate(12, NOW)).rejects.toMatchObject({
        code: 'EVENT_DATE_NOT_FOUND',
      });
    });
  });

  describe('listEvents', () => {
    it('defaults to today (UTC) through 60 days later', async () => {
      const { sut, ranges } = makeSut([]);
      await sut.listEvents(query(), NOW);
      expect(ranges).toEqual([[20261122, 20270121, undefined]]);
    });

    it('defaults `to` to 60 days after an explicit `from`', async () => {
      const { sut, ranges } = makeSut([]);
      await sut.listEvents(query({ from: '2026-12-31', zip: '43215' }), NOW);
      expect(ranges).toEqual([[20261231, 20270301, '43215']]);
    });

    it('refuses a range that ends before it starts or spans more than a year', async () => {
      const { sut } = makeSut([]);
      for (const q of [
        { from: '2026-12-02', to: '2026-12-01' },
        { from: '2026-01-01', to: '2027-01-03' },
      ]) {
        const error = await sut.listEvents(query(q), NOW).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe('VALIDATION_FAILED');
      }
    });

    it('leaves out past dates and groups the rest by event in date order', async () => {
      const { sut } = makeSut([
        scheduleDate({ id: 1, eventId: 7, dateKey: 20261121 }),
        scheduleDate({ id: 2, eventId: 7, dateKey: 20261122 }),
        scheduleDate({ id: 3, eventId: 8, dateKey: 20261125 }),
        scheduleDate({ id: 4, eventId: 7, dateKey: 20261130 }),
      ]);
      const page = await sut.listEvents(query(), NOW);
      expect(page.items.map((e) => [e.id, e.dates.map((d) => d.id)])).toEqual([
        [7, [2, 4]],
        [8, [3]],
      ]);
      expect(page.total).toBe(2);
    });
  });
});
