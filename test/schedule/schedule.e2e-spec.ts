import request from 'supertest';
import { createTestApp, TestContext } from '../support/app';
import {
  createDate,
  createEvent,
  createHour,
  createSlot,
  createSlotDate,
  dateKeyFromToday,
  timeKey,
  updateSlotDate,
} from '../support/schedule-fixture';

const isoFromToday = (days: number): string => {
  const key = String(dateKeyFromToday(days));
  return `${key.slice(0, 4)}-${key.slice(4, 6)}-${key.slice(6, 8)}`;
};

describe('schedule', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  const getDate = (id: number | string) => request(ctx.http).get(`/api/v1/event-dates/${id}`);

  async function waitlist(
    dateId: number,
    eventId: number,
    slotId: number | null,
    n: number,
  ): Promise<void> {
    for (let i = 0; i < n; i++) {
      await ctx.dbs.privateSql.query(
        `INSERT INTO event_registrations (household_id, event_id, event_date_id, event_slot_id, status, party_size, spots, created_by, queued_at)
         VALUES (?, ?, ?, ?, 'waitlisted', 1, 1, 'test', NOW(6))`,
        [1000 + i + (slotId ?? 0), eventId, dateId, slotId],
      );
    }
  }

  describe('GET /api/v1/event-dates/:id', () => {
    it('returns the contract body for a slot date, times read through dim_times', async () => {
      const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 6 });
      await updateSlotDate(ctx.dbs.publicSql, s, { reserved: 6 });
      await waitlist(s.dateId, s.eventId, s.slotIds[0], 2);
      await ctx.dbs.privateSql.query(
        "INSERT INTO event_date_settings (event_date_id, waitlist_enabled, waitlist_limit, capacity_unit) VALUES (?, 0, 3, 'person')",
        [s.dateId],
      );

      const res = await getDate(s.dateId).expect(200);

      expect(res.body).toEqual({
        id: s.dateId,
        eventId: s.eventId,
        eventName: 'Community Pantry',
        date: isoFromToday(7),
        startTime: '09:00',
        endTime: '12:00',
        capacity: 12,
        reserved: 6,
        available: 6,
        acceptReservations: true,
        bookingLevel: 'slot',
        capacityUnit: 'person',
        waitlist: { enabled: false, length: 2 },
        hours: [
          {
            id: s.hourId,
            startTime: '09:00',
            endTime: '10:00',
            capacity: 12,
            reserved: 6,
            available: 6,
            slots: [
              {
                id: s.slotIds[0],
                startTime: '09:00',
                endTime: '09:15',
                capacity: 6,
                reserved: 6,
                available: 0,
                waitlistLength: 2,
              },
              {
                id: s.slotIds[1],
                startTime: '09:15',
                endTime: '09:30',
                capacity: 6,
                reserved: 0,
                available: 6,
                waitlistLength: 0,
              },
            ],
          },
        ],
      });
    });

    it('uses the defaults when the date has no private settings, and an empty hours list at date level', async () => {
      const eventId = await createEvent(ctx.dbs.publicSql, { name: 'Mobile Market' });
      const dateId = await createDate(ctx.dbs.publicSql, eventId, {
        capacity: 40,
        start: '13:30',
        end: '15:45',
      });
      await waitlist(dateId, eventId, null, 3);

      const res = await getDate(dateId).expect(200);

      expect(res.body).toMatchObject({
        bookingLevel: 'date',
        hours: [],
        startTime: '13:30',
        endTime: '15:45',
        capacityUnit: 'household',
        waitlist: { enabled: true, length: 3 },
      });
    });

    it('never derives a time from a key: a dim_times row whose key looks like another time wins', async () => {
      const eventId = await createEvent(ctx.dbs.publicSql);
      const dateId = await createDate(ctx.dbs.publicSql, eventId, { start: '08:00', end: '11:00' });
      // the key of 08:00 is 7000 + 480*3 = 8440; were it read as minutes it would be 140:40
      expect(timeKey('08:00')).toBe(8440);
      expect((await getDate(dateId).expect(200)).body).toMatchObject({
        startTime: '08:00',
        endTime: '11:00',
      });
    });

    it('leaves out inactive hours and slots; a date whose hours have no active slot is booked at date level', async () => {
      const eventId = await createEvent(ctx.dbs.publicSql);
      const dateId = await createDate(ctx.dbs.publicSql, eventId);
      const hourId = await createHour(ctx.dbs.publicSql, dateId);
      await createSlot(ctx.dbs.publicSql, hourId, { statusId: 0 });
      expect((await getDate(dateId).expect(200)).body).toMatchObject({
        bookingLevel: 'date',
        hours: [],
      });
    });

    it.each([
      ['an unpublished date', {}, { statusPublish: 0 }],
      ['an inactive date', {}, { statusId: 0 }],
      ['a date of an unpublished event', { published: 0 }, {}],
      ['a date of an event whose dates are unpublished', { datesPublished: 0 }, {}],
      ['a date of an inactive event', { statusId: 0 }, {}],
      [
        'a date not yet published (published_date_key in the future)',
        {},
        { publishedDateKey: dateKeyFromToday(2) },
      ],
    ])('is 404 EVENT_DATE_NOT_FOUND for %s', async (_label, event, date) => {
      const eventId = await createEvent(ctx.dbs.publicSql, event);
      const dateId = await createDate(ctx.dbs.publicSql, eventId, date);
      const res = await getDate(dateId).expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, code: 'EVENT_DATE_NOT_FOUND' });
    });

    it.each(['999999', 'abc', '0', '-1', '1.5', '99999999999'])(
      'is 404 EVENT_DATE_NOT_FOUND for id %s',
      async (id) => {
        const res = await getDate(id).expect(404);
        expect(res.body.code).toBe('EVENT_DATE_NOT_FOUND');
      },
    );

    it('shows a past date, with acceptReservations false', async () => {
      const eventId = await createEvent(ctx.dbs.publicSql);
      const dateId = await createDate(ctx.dbs.publicSql, eventId, {
        dateKey: dateKeyFromToday(-3),
      });
      const res = await getDate(dateId).expect(200);
      expect(res.body).toMatchObject({
        id: dateId,
        date: isoFromToday(-3),
        acceptReservations: false,
      });
    });

    it('shows a date after its published_end_datetime, not bookable', async () => {
      const eventId = await createEvent(ctx.dbs.publicSql);
      const dateId = await createDate(ctx.dbs.publicSql, eventId, {
        publishedEnd: new Date(Date.now() - 60_000),
      });
      expect((await getDate(dateId).expect(200)).body.acceptReservations).toBe(false);
    });

    it('shows a date with accept_reservations 0, not bookable', async () => {
      const eventId = await createEvent(ctx.dbs.publicSql);
      const dateId = await createDate(ctx.dbs.publicSql, eventId, { acceptReservations: 0 });
      expect((await getDate(dateId).expect(200)).body.acceptReservations).toBe(false);
    });
  });

  describe('GET /api/v1/events', () => {
    it('lists only the dates that can be booked now, grouped by event', async () => {
      const zip = '44101';
      const eventId = await createEvent(ctx.dbs.publicSql, { name: 'Listing Pantry', zip });
      const bookable = await createDate(ctx.dbs.publicSql, eventId, {
        dateKey: dateKeyFromToday(3),
      });
      const later = await createDate(ctx.dbs.publicSql, eventId, { dateKey: dateKeyFromToday(10) });
      const ended = await createDate(ctx.dbs.publicSql, eventId, {
        dateKey: dateKeyFromToday(4),
        publishedEnd: new Date(Date.now() - 60_000),
      });
      const past = await createDate(ctx.dbs.publicSql, eventId, { dateKey: dateKeyFromToday(-1) });
      const closed = await createDate(ctx.dbs.publicSql, eventId, { acceptReservations: 0 });
      const unpublished = await createDate(ctx.dbs.publicSql, eventId, { statusPublish: 0 });
      const notYet = await createDate(ctx.dbs.publicSql, eventId, {
        publishedDateKey: dateKeyFromToday(1),
      });
      const hidden = await createEvent(ctx.dbs.publicSql, { zip, published: 0 });
      await createDate(ctx.dbs.publicSql, hidden);

      const res = await request(ctx.http)
        .get('/api/v1/events')
        .query({ zip, from: isoFromToday(-5) })
        .expect(200);

      expect(res.body).toMatchObject({ total: 1, page: 1, pageSize: 50 });
      expect(res.body.items).toHaveLength(1);
      expect(res.body.items[0]).toMatchObject({ id: eventId, name: 'Listing Pantry', zip });
      const ids = res.body.items[0].dates.map((d: { id: number }) => d.id);
      expect(ids).toEqual([bookable, later]);
      for (const hiddenId of [ended, past, closed, unpublished, notYet])
        expect(ids).not.toContain(hiddenId);
      expect(res.body.items[0].dates[0]).toEqual({
        id: bookable,
        date: isoFromToday(3),
        startTime: '09:00',
        endTime: '12:00',
        capacity: 100,
        reserved: 0,
        available: 100,
        bookingLevel: 'date',
      });
    });

    it('defaults to the next 60 days and honours from/to', async () => {
      const zip = '44102';
      const eventId = await createEvent(ctx.dbs.publicSql, { zip });
      const soon = await createDate(ctx.dbs.publicSql, eventId, { dateKey: dateKeyFromToday(5) });
      const far = await createDate(ctx.dbs.publicSql, eventId, { dateKey: dateKeyFromToday(90) });

      const byDefault = await request(ctx.http).get('/api/v1/events').query({ zip }).expect(200);
      expect(byDefault.body.items[0].dates.map((d: { id: number }) => d.id)).toEqual([soon]);

      const ranged = await request(ctx.http)
        .get('/api/v1/events')
        .query({ zip, from: isoFromToday(80), to: isoFromToday(100) })
        .expect(200);
      expect(ranged.body.items[0].dates.map((d: { id: number }) => d.id)).toEqual([far]);
    });

    it('pages by event', async () => {
      const zip = '44103';
      const events: number[] = [];
      for (let i = 0; i < 3; i++) {
        const eventId = await createEvent(ctx.dbs.publicSql, { zip });
        await createDate(ctx.dbs.publicSql, eventId, { dateKey: dateKeyFromToday(2 + i) });
        events.push(eventId);
      }
      const res = await request(ctx.http)
        .get('/api/v1/events')
        .query({ zip, page: 2, pageSize: 2 })
        .expect(200);
      expect(res.body).toMatchObject({ total: 3, page: 2, pageSize: 2 });
      expect(res.body.items.map((e: { id: number }) => e.id)).toEqual([events[2]]);
    });

    it.each([
      [{ from: '2026-02-30' }],
      [{ from: '2026-1-01' }],
      [{ to: 'tomorrow' }],
      [{ from: '2026-12-10', to: '2026-12-01' }],
      [{ from: '2026-01-01', to: '2028-01-01' }],
      [{ zip: 'abc' }],
      [{ pageSize: 201 }],
      [{ page: 0 }],
      [{ unknown: 1 }],
    ])('refuses %j with 400 VALIDATION_FAILED', async (query) => {
      const res = await request(ctx.http).get('/api/v1/events').query(query).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });
  });
});
