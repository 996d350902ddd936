import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { parse } from 'csv-parse/sync';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { participant } from '../support/calls';
import { counterDrift, createHousehold, createHouseholds } from '../support/households';
import {
  counters,
  createDate,
  createEvent,
  createHour,
  createSlot,
  createSlotDate,
  dateKeyFromToday,
  slotCounters,
  updateSlotDate,
} from '../support/schedule-fixture';

const staff = bearer('staff-3', ['admin']);

interface Item {
  id: string;
  householdId: string;
  eventSlotId: number | null;
  status: string;
  waitlistPosition: number | null;
  memberIds: string[];
  household: { id: string; members: { id: string; firstName: string; lastName: string }[] };
}

describe('admin: event dates', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  const get = (path: string) =>
    request(ctx.http).get(`/api/v1/admin/event-dates${path}`).set('Authorization', staff);
  const put = (id: number, body: object) =>
    request(ctx.http)
      .put(`/api/v1/admin/event-dates/${id}/settings`)
      .set('Authorization', staff)
      .send(body);
  const register = (sub: string, body: object) =>
    participant(ctx.http, { sub }).register(body).expect(201);
  const named = async (first: string, last: string, dob = '1980-01-01') => {
    const h = await createHousehold(ctx.dbs.privateSql, undefined, 1);
    await ctx.dbs.privateSql.query(
      'UPDATE household_members SET first_name = ?, last_name = ?, date_of_birth = ? WHERE id = ?',
      [first, last, dob, h.memberIds[0]],
    );
    return h;
  };

  it('refuses every route without a token (401) and with a participant token (403)', async () => {
    const h = await createHousehold(ctx.dbs.privateSql);
    const routes: [method: 'get' | 'post' | 'put', path: string, body?: object][] = [
      ['get', '/1/registrations'],
      ['get', '/1/registrations.csv'],
      ['get', '/1/waitlist'],
      ['post', '/1/waitlist/promote'],
      ['put', '/1/settings', { waitlistEnabled: false }],
      ['get', '/1/stats'],
    ];
    for (const [method, path, body] of routes) {
      const call = () => request(ctx.http)[method](`/api/v1/admin/event-dates${path}`);
      const anonymous = await call().send(body);
      expect([path, anonymous.status, anonymous.body.code]).toEqual([path, 401, 'UNAUTHENTICATED']);
      const participant = await call().set('Authorization', bearer(h.sub)).send(body);
      expect([path, participant.status, participant.body.code]).toEqual([path, 403, 'FORBIDDEN']);
    }
    for (const [method, path, body] of routes) {
      const missing = request(ctx.http)[method](`/api/v1/admin/event-dates/987654${path.slice(2)}`);
      const res = await missing.set('Authorization', staff).send(body);
      expect([path, res.status, res.body.code]).toEqual([path, 404, 'EVENT_DATE_NOT_FOUND']);
    }
  });

  it('lists registrations with their households, filtered by status and slot, paged', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 1 });
    const [a, b, c] = await createHouseholds(ctx.dbs.privateSql, 3);
    const ra = await register(a.sub, {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      memberIds: [a.memberIds[1]],
    });
    const rb = await register(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const rc = await register(c.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[1] });
    // a removed member still on a registration keeps their name there
    await ctx.dbs.privateSql.query('UPDATE household_members SET is_active = 0 WHERE id = ?', [
      a.memberIds[1],
    ]);

    const all = await get(`/${s.dateId}/registrations`).expect(200);
    expect(all.body).toMatchObject({ total: 3, page: 1, pageSize: 50 });
    expect((all.body.items as Item[]).map((i) => i.id)).toEqual([
      ra.body.id,
      rb.body.id,
      rc.body.id,
    ]);
    const first = all.body.items[0] as Item;
    expect(first).toMatchObject({ ...ra.body, updatedAt: expect.any(String) });
    expect(first.household).toEqual({
      id: a.id,
      members: [
        { id: a.memberIds[0], firstName: 'First0', lastName: `Last${a.id}` },
        { id: a.memberIds[1], firstName: 'First1', lastName: `Last${a.id}` },
      ],
    });
    const waiting = await get(`/${s.dateId}/registrations?status=waitlisted`).expect(200);
    expect([
      waiting.body.total,
      waiting.body.items[0].id,
      waiting.body.items[0].waitlistPosition,
    ]).toEqual([1, rb.body.id, 1]);
    const slot = await get(`/${s.dateId}/registrations?slotId=${s.slotIds[1]}`).expect(200);
    expect((slot.body.items as Item[]).map((i) => i.id)).toEqual([rc.body.id]);
    const page2 = await get(`/${s.dateId}/registrations?page=2&pageSize=2`).expect(200);
    expect([page2.body.total, page2.body.items.length, page2.body.items[0].id]).toEqual([
      3,
      1,
      rc.body.id,
    ]);

    for (const query of [
      'pageSize=201',
      'page=0',
      'status=failed',
      'status=nope',
      'slotId=x',
      'other=1',
    ]) {
      const bad = await get(`/${s.dateId}/registrations?${query}`).expect(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
    }
    // staff see dates participants cannot
    const hidden = await createSlotDate(ctx.dbs.publicSql, { statusPublish: 0 });
    expect((await get(`/${hidden.dateId}/registrations`).expect(200)).body.total).toBe(0);
    await get('/abc/registrations').expect(404);
  });

  const zone = '(America/New_York)';
  const csvHeader = [
    'Event',
    'Date',
    `Slot start ${zone}`,
    `Slot end ${zone}`,
    'Last name',
    'First name',
    'Members',
    'Status',
    'Waitlist position',
    'Party size',
    'Spots',
    'Checked in',
    `Checked in at ${zone}`,
    'Special requirements',
    `Registered at ${zone}`,
    `Cancelled at ${zone}`,
    'Registration id',
    'Household id',
    'Slot id',
    'Member ids',
  ];
  const newYork = new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'America/New_York',
    dateStyle: 'short',
    timeStyle: 'medium',
  });

  it('exports a CSV staff can open: by slot time then name, local times, formulas neutralised', async () => {
    const dateKey = dateKeyFromToday(7);
    const day = `${String(dateKey).slice(0, 4)}-${String(dateKey).slice(4, 6)}-${String(dateKey).slice(6)}`;
    const eventId = await createEvent(ctx.dbs.publicSql, {
      name: 'Downtown Community Pantry',
      timeZone: 'America/New_York',
    });
    const dateId = await createDate(ctx.dbs.publicSql, eventId, { dateKey, capacity: 20 });
    const nine = await createHour(ctx.dbs.publicSql, dateId, { capacity: 10, start: '09:00' });
    const ten = await createHour(ctx.dbs.publicSql, dateId, {
      capacity: 10,
      start: '10:00',
      end: '11:00',
    });
    // created out of time order, so neither slot id nor registration id is the order staff see
    const s0930 = await createSlot(ctx.dbs.publicSql, nine, {
      capacity: 1,
      start: '09:30',
      end: '09:45',
    });
    const s0900 = await createSlot(ctx.dbs.publicSql, nine, { capacity: 5 });
    const s1000 = await createSlot(ctx.dbs.publicSql, ten, { start: '10:00', end: '10:15' });
    const s0945 = await createSlot(ctx.dbs.publicSql, nine, { start: '09:45', end: '10:00' });

    const people: [first: string, last: string, slot: number][] = [
      ['+SUM(A1:A9)', 'Evans', s0930],
      ['=HYPERLINK("http://x.example","click")', 'Baker', s0900],
      ['李', 'Cole', s0930],
      ['Zoë', 'Adams, "Jr."', s0900],
      ['Ann', 'Cole', s0930],
      ['-1 Line\nBreak', '@Dee', s0945],
      ['\tTab', '\rRoe', s1000],
    ];
    const regs: { id: string; createdAt: string; householdId: string; memberId: string }[] = [];
    for (const [first, last, slot] of people) {
      const h = await named(first, last);
      const r = await register(h.sub, { eventDateId: dateId, eventSlotId: slot });
      regs.push({ ...r.body, householdId: h.id, memberId: h.memberIds[0] });
    }
    // checked in at 13:05 UTC on a summer day: 09:05 in New York (EDT)
    await ctx.dbs.privateSql.query(
      "UPDATE event_registrations SET status = 'checked_in', checked_in_at = '2026-07-04 13:05:00' WHERE id = ?",
      [regs[1].id],
    );

    const res = await get(`/${dateId}/registrations.csv`).expect(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const fileName = `downtown-community-pantry-${day}.csv`;
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="${fileName}"; filename*=UTF-8''${fileName}`,
    );
    expect(res.text.startsWith('\uFEFF')).toBe(true);
    expect(res.text.split('\r\n')).toHaveLength(people.length + 2);
    const records: string[][] = parse(res.text, { bom: true });
    const [header, ...rows] = records;
    expect(header).toEqual(csvHeader);

    const row = (
      i: number,
      start: string,
      end: string,
      status: string,
      waitlistPosition: string,
      first: string,
      last: string,
      members = `${first} ${last}`,
    ) => [
      'Downtown Community Pantry',
      day,
      start,
      end,
      last,
      first,
      members,
      status,
      waitlistPosition,
      '1',
      '1',
      i === 1 ? 'yes' : 'no',
      i === 1 ? '2026-07-04 09:05:00' : '',
      '', // no special requirements
      newYork.format(new Date(regs[i].createdAt)),
      '',
      regs[i].id,
      regs[i].householdId,
      String(people[i][2]),
      regs[i].memberId,
    ];
    expect(rows).toEqual([
      row(3, '09:00', '09:15', 'confirmed', '', 'Zoë', 'Adams, "Jr."'),
      row(
        1,
        '09:00',
        '09:15',
        'checked_in',
        '',
        `'=HYPERLINK("http://x.example","click")`,
        'Baker',
      ),
      row(4, '09:30', '09:45', 'waitlisted', '2', 'Ann', 'Cole'),
      row(2, '09:30', '09:45', 'waitlisted', '1', '李', 'Cole'),
      row(0, '09:30', '09:45', 'confirmed', '', `'+SUM(A1:A9)`, 'Evans'),
      row(5, '09:45', '10:00', 'confirmed', '', `'-1 Line\nBreak`, `'@Dee`, `'-1 Line\nBreak @Dee`),
      row(6, '10:00', '10:15', 'confirmed', '', `'\tTab`, `'\rRoe`, `'\tTab \rRoe`),
    ]);
  });

  it('names the file after the event in any script, and says UTC when the schedule has no zone', async () => {
    const eventId = await createEvent(ctx.dbs.publicSql, { name: 'Zoë & 李 "Pantry"; x' });
    const dateId = await createDate(ctx.dbs.publicSql, eventId, { dateKey: 20261203 });
    const res = await get(`/${dateId}/registrations.csv`).expect(200);
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="zoe-pantry-x-2026-12-03.csv"; ` +
        `filename*=UTF-8''${encodeURIComponent('zoë-李-pantry-x-2026-12-03.csv')}`,
    );
    const records: string[][] = parse(res.text, { bom: true });
    const [header, ...rows] = records;
    expect(header).toContain('Checked in at (UTC)');
    expect(rows).toEqual([]);
  });

  it('streams a large export in keyset pages, every registration once, ties broken by id', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 2000 });
    const [h] = await Promise.all([createHousehold(ctx.dbs.privateSql, undefined, 1)]);
    const n = 1203;
    const rows = Array.from({ length: n }, (_, i) => [
      Number(h.id) + 100000 + i,
      s.eventId,
      s.dateId,
      s.hourId,
      s.slotIds[0],
      i % 3 === 0 ? 'cancelled' : 'confirmed',
    ]);
    await ctx.dbs.privateSql.query<ResultSetHeader>(
      `INSERT INTO event_registrations (household_id, event_id, event_date_id, event_hour_id, event_slot_id, status,
         party_size, spots, created_by) VALUES ?`,
      [rows.map((r) => [...r, 1, 1, 'fixture'])],
    );
    const [ids] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT id FROM event_registrations WHERE event_date_id = ? ORDER BY id',
      [s.dateId],
    );
    const res = await get(`/${s.dateId}/registrations.csv`).expect(200);
    const records = parse<Record<string, string>>(res.text, { bom: true, columns: true });
    // no members, so no names to sort by: slot time, then id
    expect(records.map((r) => r['Registration id'])).toEqual(ids.map((r) => String(r.id)));
    expect(records.filter((r) => r.Status === 'cancelled')).toHaveLength(Math.ceil(n / 3));
    expect(records[0]).toMatchObject({
      'Slot id': String(s.slotIds[0]),
      'Slot start (UTC)': '09:00',
      'Slot end (UTC)': '09:15',
    });
  });

  it('lists the waitlist in promotion order: slot start time first, then position', async () => {
    const eventId = await createEvent(ctx.dbs.publicSql);
    const dateId = await createDate(ctx.dbs.publicSql, eventId, { capacity: 10 });
    const hourId = await createHour(ctx.dbs.publicSql, dateId, {
      capacity: 10,
      start: '09:00',
      end: '10:00',
    });
    // the later slot gets the smaller id, so id order is not start order
    const late = await createSlot(ctx.dbs.publicSql, hourId, {
      capacity: 1,
      start: '09:30',
      end: '09:45',
    });
    const early = await createSlot(ctx.dbs.publicSql, hourId, {
      capacity: 1,
      start: '09:00',
      end: '09:15',
    });
    const hs = await createHouseholds(ctx.dbs.privateSql, 6);
    const order: [number, number][] = [
      [0, late],
      [1, late],
      [2, late],
      [3, early],
      [4, early],
      [5, early],
    ];
    const ids: string[] = [];
    for (const [i, slot] of order)
      ids.push((await register(hs[i].sub, { eventDateId: dateId, eventSlotId: slot })).body.id);
    const res = await get(`/${dateId}/waitlist`).expect(200);
    expect(
      (res.body.items as Item[]).map((i) => [i.id, i.eventSlotId, i.status, i.waitlistPosition]),
    ).toEqual([
      [ids[4], early, 'waitlisted', 1],
      [ids[5], early, 'waitlisted', 2],
      [ids[1], late, 'waitlisted', 1],
      [ids[2], late, 'waitlisted', 2],
    ]);
  });

  it('promotes what the counters allow now, oldest first', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const hs = await createHouseholds(ctx.dbs.privateSql, 4);
    const ids: string[] = [];
    for (const h of hs)
      ids.push(
        (await register(h.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] })).body.id,
      );
    const promote = () =>
      request(ctx.http)
        .post(`/api/v1/admin/event-dates/${s.dateId}/waitlist/promote`)
        .set('Authorization', staff)
        .send();
    expect((await promote().expect(200)).body).toEqual({ promoted: [] });
    // capacity raised by the schedule's owner
    await updateSlotDate(ctx.dbs.publicSql, s, { capacity: 3 });
    expect((await promote().expect(200)).body).toEqual({ promoted: [ids[1], ids[2]] });
    const waiting = await get(`/${s.dateId}/waitlist`).expect(200);
    expect((waiting.body.items as Item[]).map((i) => [i.id, i.waitlistPosition])).toEqual([
      [ids[3], 1],
    ]);
    expect(
      (await counters(ctx.dbs.publicSql, { dateId: s.dateId, slotId: s.slotIds[0] })).slot.reserved,
    ).toBe(3);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it('changes settings by subset; the unit only while nothing is active; counters never move', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const defaults = {
      eventDateId: s.dateId,
      waitlistEnabled: true,
      waitlistLimit: null,
      capacityUnit: 'household',
    };
    expect((await put(s.dateId, {}).expect(200)).body).toEqual(defaults);
    expect((await put(s.dateId, { waitlistLimit: 2 }).expect(200)).body).toEqual({
      ...defaults,
      waitlistLimit: 2,
    });
    expect((await put(s.dateId, { waitlistEnabled: false }).expect(200)).body).toEqual({
      ...defaults,
      waitlistLimit: 2,
      waitlistEnabled: false,
    });
    expect(
      (await put(s.dateId, { waitlistLimit: null, waitlistEnabled: true }).expect(200)).body,
    ).toEqual(defaults);
    for (const body of [
      { waitlistLimit: -1 },
      { waitlistLimit: 1.5 },
      { waitlistLimit: '3' },
      { waitlistEnabled: 'yes' },
      { capacityUnit: 'family' },
      { capacityUnit: null },
      { extra: 1 },
    ]) {
      const bad = await put(s.dateId, body).expect(400);
      expect([body, bad.body.code]).toEqual([body, 'VALIDATION_FAILED']);
    }
    expect((await put(s.dateId, { capacityUnit: 'person' }).expect(200)).body.capacityUnit).toBe(
      'person',
    );

    const h = await createHousehold(ctx.dbs.privateSql, undefined, 3);
    const r = await register(h.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    expect(r.body.spots).toBe(3);
    const before = await slotCounters(ctx.dbs.publicSql, s);
    const refused = await put(s.dateId, { capacityUnit: 'household', waitlistLimit: 9 }).expect(
      409,
    );
    expect(refused.body.code).toBe('INVALID_STATE');
    expect((await put(s.dateId, {}).expect(200)).body).toEqual({
      ...defaults,
      capacityUnit: 'person',
    });
    // the same unit again is not a change
    await put(s.dateId, { capacityUnit: 'person', waitlistEnabled: false }).expect(200);
    expect(await slotCounters(ctx.dbs.publicSql, s)).toEqual(before);

    await request(ctx.http)
      .delete(`/api/v1/registrations/${r.body.id}`)
      .set('Authorization', bearer(h.sub))
      .expect(200);
    expect((await put(s.dateId, { capacityUnit: 'household' }).expect(200)).body.capacityUnit).toBe(
      'household',
    );
  });

  it('computes the statistics of a scripted day', async () => {
    const eventId = await createEvent(ctx.dbs.publicSql);
    const dateId = await createDate(ctx.dbs.publicSql, eventId, {
      capacity: 3,
      dateKey: dateKeyFromToday(0),
    });
    const [a, b, c, d, e, f] = await createHouseholds(ctx.dbs.privateSql, 6);
    // a: an adult (1980) and a senior; c: an adult and a child (2012)
    await ctx.dbs.privateSql.query(
      "UPDATE household_members SET date_of_birth = '1950-02-02' WHERE id = ?",
      [a.memberIds[1]],
    );
    const reg = async (h: typeof a) =>
      (await register(h.sub, { eventDateId: dateId })).body.id as string;
    const ra = await reg(a);
    const rb = await reg(b);
    await reg(f);
    const rc = await reg(c);
    const rd = await reg(d);
    const re = await reg(e);
    const empty = await get(`/${dateId}/stats`).expect(200);
    expect(empty.body).toMatchObject({
      confirmed: 3,
      waitlisted: 3,
      promotions: 0,
      waitlistConversion: 0,
      medianWaitSeconds: null,
    });

    const del = (id: string) =>
      request(ctx.http)
        .delete(`/api/v1/admin/registrations/${id}`)
        .set('Authorization', staff)
        .expect(200);
    await del(rb); // c is promoted
    await del(re); // leaves the waitlist
    await ctx.dbs.publicSql.query('UPDATE event_dates SET capacity = 4 WHERE event_date_id = ?', [
      dateId,
    ]);
    const promoted = await request(ctx.http)
      .post(`/api/v1/admin/event-dates/${dateId}/waitlist/promote`)
      .set('Authorization', staff);
    expect(promoted.body).toEqual({ promoted: [rd] });
    const checkIn = (id: string, memberIds: string[]) =>
      request(ctx.http)
        .post(`/api/v1/admin/registrations/${id}/check-in`)
        .set('Authorization', staff)
        .send({ memberIds })
        .expect(200);
    await checkIn(ra, a.memberIds);
    await checkIn(rc, [c.memberIds[1]]);
    // fixed waits: c waited 600 s, d 1800 s
    const setWait = async (id: string, seconds: number) => {
      await ctx.dbs.privateSql.query(
        "UPDATE registration_history SET at = '2026-01-01 10:00:00' WHERE registration_id = ? AND action = 'waitlisted'",
        [id],
      );
      await ctx.dbs.privateSql.query(
        "UPDATE registration_history SET at = '2026-01-01 10:00:00' + INTERVAL ? SECOND WHERE registration_id = ? AND action = 'promoted'",
        [seconds, id],
      );
    };
    await setWait(rc, 600);
    await setWait(rd, 1800);

    const expected = {
      eventDateId: dateId,
      capacity: 4,
      reserved: 4, // a, c, d, f
      confirmed: 2, // d, f
      waitlisted: 0,
      cancelled: 2, // b, e
      waitlistClosed: 0, // by the household, not by closing the waitlist
      checkedIn: 2, // a, c
      noShows: 0, // the day is not over
      promotions: 2, // c, d
      waitlistConversion: 0.6667, // c and d of c, d, e
      medianWaitSeconds: 1200,
      peopleServed: 3,
      peopleServedByAge: { children: 1, adults: 1, seniors: 1 },
    };
    expect((await get(`/${dateId}/stats`).expect(200)).body).toEqual(expected);
    // once the day is over, the confirmed who never came are no-shows
    await ctx.dbs.publicSql.query(
      'UPDATE event_dates SET event_date_key = ? WHERE event_date_id = ?',
      [dateKeyFromToday(-1), dateId],
    );
    expect((await get(`/${dateId}/stats`).expect(200)).body).toEqual({ ...expected, noShows: 2 });
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, dateId)).toEqual([]);
  });
});
