import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { parse } from 'csv-parse/sync';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { counterDrift, createHousehold } from '../support/households';
import {
  counters,
  createDate,
  createEvent,
  createHour,
  createSlot,
  createSlotDate,
  dateKeyFromToday,
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
    request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', bearer(sub))
      .send(body)
      .expect(201);
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
    const [a, b, c] = await Promise.all(
      [1, 2, 3].map(() => createHousehold(ctx.dbs.privateSql, undefined, 2)),
    );
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

  it('exports CSV that parses back field by field, with awkward names', async () => {
    const eventId = await createEvent(ctx.dbs.publicSql);
    const dateId = await createDate(ctx.dbs.publicSql, eventId, {
      capacity: 1,
      start: '08:30',
      end: '11:45',
    });
    const people = [
      await named('José', 'Núñez, Jr.'),
      await named('Zoë', 'O"Brien'),
      await named('李', 'Line\nBreak'),
    ];
    const regs = [];
    for (const p of people) regs.push((await register(p.sub, { eventDateId: dateId })).body);
    await request(ctx.http)
      .delete(`/api/v1/registrations/${regs[0].id}`)
      .set('Authorization', bearer(people[0].sub))
      .expect(200);
    const view = async (id: string, sub: string) =>
      (await request(ctx.http).get(`/api/v1/registrations/${id}`).set('Authorization', bearer(sub)))
        .body;
    const current = [
      await view(regs[0].id, people[0].sub),
      await view(regs[1].id, people[1].sub),
      await view(regs[2].id, people[2].sub),
    ];

    const res = await get(`/${dateId}/registrations.csv`).expect(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const text = res.text;
    expect(text.startsWith('\uFEFF')).toBe(true);
    const records = parse<Record<string, string>>(text, { bom: true, columns: true });
    const names = ['José Núñez, Jr.', 'Zoë O"Brien', '李 Line\nBreak'];
    expect(records).toEqual(
      current.map((r, i) => ({
        registrationId: r.id,
        status: r.status,
        householdId: people[i].id,
        eventSlotId: '',
        startTime: '08:30',
        endTime: '11:45',
        partySize: '1',
        spots: '1',
        createdAt: r.createdAt,
        cancelledAt: r.cancelledAt ?? '',
        checkedInAt: '',
        memberIds: people[i].memberIds[0],
        memberNames: names[i],
        specialRequirements: '',
      })),
    );
    expect(records.map((r) => r.status)).toEqual(['cancelled', 'confirmed', 'waitlisted']);
  });

  it('streams a large export in keyset chunks, every registration once, in id order', async () => {
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
    expect(records.map((r) => r.registrationId)).toEqual(ids.map((r) => String(r.id)));
    expect(records.filter((r) => r.status === 'cancelled')).toHaveLength(Math.ceil(n / 3));
    expect(records[0]).toMatchObject({
      eventSlotId: String(s.slotIds[0]),
      startTime: '09:00',
      endTime: '09:15',
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
    const hs = await Promise.all([1, 2, 3, 4, 5, 6].map(() => createHousehold(ctx.dbs.privateSql)));
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
    const hs = await Promise.all([1, 2, 3, 4].map(() => createHousehold(ctx.dbs.privateSql)));
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
    await ctx.dbs.publicSql.query('UPDATE event_slots SET capacity = 3 WHERE event_slot_id = ?', [
      s.slotIds[0],
    ]);
    await ctx.dbs.publicSql.query('UPDATE event_hours SET capacity = 3 WHERE event_hour_id = ?', [
      s.hourId,
    ]);
    await ctx.dbs.publicSql.query('UPDATE event_dates SET capacity = 3 WHERE event_date_id = ?', [
      s.dateId,
    ]);
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
    const before = await counters(ctx.dbs.publicSql, {
      dateId: s.dateId,
      hourId: s.hourId,
      slotId: s.slotIds[0],
    });
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
    expect(
      await counters(ctx.dbs.publicSql, {
        dateId: s.dateId,
        hourId: s.hourId,
        slotId: s.slotIds[0],
      }),
    ).toEqual(before);

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
    const [a, b, c, d, e, f] = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(() => createHousehold(ctx.dbs.privateSql, undefined, 2)),
    );
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
