import type { RowDataPacket } from 'mysql2/promise';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import { participant } from '../support/calls';
import { counterDrift, createHousehold, createHouseholds } from '../support/households';
import {
  counters,
  createDate,
  createEvent,
  createSlotDate,
  dateKeyFromToday,
  slotCounters,
} from '../support/schedule-fixture';

interface BulkRow {
  householdId: string;
  status: string;
  registration: object | null;
  error: { code: string; message: string } | null;
}
interface HistoryRow {
  action: string;
  fromStatus: string | null;
  toStatus: string;
  actor: string;
}

const STAFF = 'staff-7';
const staff = bearer(STAFF, ['staff']);

describe('admin: registrations', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // no outbox dispatcher: an undone bulk registration's unsent notifications must vanish
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
  });
  afterAll(async () => ctx.close());

  const register = (sub: string, body: object) =>
    participant(ctx.http, { sub }).register(body).expect(201);
  const adminPost = (path: string, body: object, auth = staff) =>
    request(ctx.http)
      .post(`/api/v1/admin/registrations${path}`)
      .set('Authorization', auth)
      .send(body);
  const checkIn = (id: string, body: object = {}, key?: string) => {
    const req = request(ctx.http)
      .post(`/api/v1/admin/registrations/${id}/check-in`)
      .set('Authorization', staff);
    if (key) req.set('Idempotency-Key', key);
    return req.send(body);
  };
  const rowsOf = async (householdIds: string[]) =>
    (
      await ctx.dbs.privateSql.query<RowDataPacket[]>(
        'SELECT id, status FROM event_registrations WHERE household_id IN (?)',
        [householdIds],
      )
    )[0];

  it('refuses every route without a token (401) and with a participant token (403)', async () => {
    const h = await createHousehold(ctx.dbs.privateSql);
    const routes: [method: 'get' | 'post' | 'delete', path: string, body?: object][] = [
      ['post', '/api/v1/admin/registrations', { householdId: h.id, eventDateId: 1 }],
      ['post', '/api/v1/admin/registrations/bulk', { eventDateId: 1, householdIds: [h.id] }],
      ['post', '/api/v1/admin/registrations/1/check-in', {}],
      ['delete', '/api/v1/admin/registrations/1'],
      ['get', '/api/v1/admin/registrations/1/history'],
    ];
    for (const [method, path, body] of routes) {
      const call = () => request(ctx.http)[method](path);
      const anonymous = await call().send(body);
      expect([path, anonymous.status, anonymous.body.code]).toEqual([path, 401, 'UNAUTHENTICATED']);
      const participant = await call().set('Authorization', bearer(h.sub)).send(body);
      expect([path, participant.status, participant.body.code]).toEqual([path, 403, 'FORBIDDEN']);
    }
    expect(await rowsOf([h.id])).toEqual([]);
  });

  it("registers a household on its behalf, recorded as the staff member's act", async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const h = await createHousehold(ctx.dbs.privateSql);
    const other = await createHousehold(ctx.dbs.privateSql);
    const res = await adminPost('', {
      householdId: Number(h.id),
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
    }).expect(201);
    expect(res.body).toMatchObject({
      householdId: h.id,
      status: 'confirmed',
      memberIds: h.memberIds,
      spots: 1,
    });
    const waiting = await adminPost('', {
      householdId: other.id,
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
    }).expect(201);
    expect([waiting.body.status, waiting.body.waitlistPosition]).toEqual(['waitlisted', 1]);

    const history = await request(ctx.http)
      .get(`/api/v1/admin/registrations/${res.body.id}/history`)
      .set('Authorization', staff)
      .expect(200);
    expect(history.body.items).toEqual([
      {
        at: expect.any(String),
        actor: STAFF,
        action: 'confirmed',
        fromStatus: 'pending',
        toStatus: 'confirmed',
        spots: 1,
        causeRegistrationId: null,
      },
    ]);
    const [[row]] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT created_by FROM event_registrations WHERE id = ?',
      [res.body.id],
    );
    expect(row.created_by).toBe(STAFF);

    const again = await adminPost('', {
      householdId: h.id,
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
    }).expect(409);
    expect(again.body.code).toBe('ALREADY_REGISTERED');
    const unknown = await adminPost('', {
      householdId: '987654321',
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
    }).expect(404);
    expect(unknown.body.code).toBe('HOUSEHOLD_NOT_FOUND');
    for (const body of [
      { eventDateId: s.dateId, eventSlotId: s.slotIds[0] },
      { householdId: 'abc', eventDateId: s.dateId, eventSlotId: s.slotIds[0] },
      { householdId: h.id, eventDateId: s.dateId, eventSlotId: s.slotIds[0], extra: true },
    ]) {
      const bad = await adminPost('', body).expect(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await counters(ctx.dbs.publicSql, { dateId: s.dateId })).date.reserved).toBe(1);
  });

  it('bulk: one result per household in order, each with its own outcome', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 2 });
    const [a, b, c, d] = await createHouseholds(ctx.dbs.privateSql, 4);
    await register(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const res = await adminPost('/bulk', {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      householdIds: [a.id, b.id, '987654321', Number(c.id), d.id],
    }).expect(200);
    expect(
      (res.body.results as BulkRow[]).map((r) => [r.householdId, r.status, r.error?.code ?? null]),
    ).toEqual([
      [a.id, 'confirmed', null],
      [b.id, 'failed', 'ALREADY_REGISTERED'],
      ['987654321', 'failed', 'HOUSEHOLD_NOT_FOUND'],
      [c.id, 'waitlisted', null],
      [d.id, 'waitlisted', null],
    ]);
    expect(res.body.results[0].registration).toMatchObject({
      householdId: a.id,
      status: 'confirmed',
    });
    expect(res.body.results[1].registration).toBeNull();
    expect(res.body.results[4].registration.waitlistPosition).toBe(2);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);

    for (const body of [
      { eventDateId: s.dateId, householdIds: [] },
      { eventDateId: s.dateId, householdIds: [a.id, Number(a.id)] },
      { eventDateId: s.dateId, householdIds: Array.from({ length: 201 }, (_, i) => String(i + 1)) },
      { eventDateId: s.dateId, householdIds: ['x'] },
      { eventDateId: s.dateId, householdIds: [a.id], allOrNothing: 'yes' },
    ]) {
      const bad = await adminPost('/bulk', body).expect(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
    }
  });

  it('bulk allOrNothing: one household already registered, so nothing is kept and the counters do not move', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const [a, b, c, d] = await createHouseholds(ctx.dbs.privateSql, 4);
    const existing = await register(c.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const before = await slotCounters(ctx.dbs.publicSql, s);

    const res = await adminPost('/bulk', {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      householdIds: [a.id, b.id, c.id, d.id],
      allOrNothing: true,
    }).expect(200);
    expect(
      (res.body.results as BulkRow[]).map((r) => [
        r.householdId,
        r.status,
        r.registration,
        r.error?.code,
      ]),
    ).toEqual([
      [a.id, 'failed', null, 'ALL_OR_NOTHING_ABORTED'],
      [b.id, 'failed', null, 'ALL_OR_NOTHING_ABORTED'],
      [c.id, 'failed', null, 'ALREADY_REGISTERED'],
      [d.id, 'failed', null, 'ALL_OR_NOTHING_ABORTED'],
    ]);
    expect(res.body.results[0].error.message).toMatch(/Undone/);
    expect(res.body.results[3].error.message).toMatch(/Not tried/);

    expect(await slotCounters(ctx.dbs.publicSql, s)).toEqual(before);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
    expect(await rowsOf([a.id, b.id, d.id])).toEqual([]);
    expect((await rowsOf([c.id])).map((r) => [String(r.id), r.status])).toEqual([
      [existing.body.id, 'confirmed'],
    ]);
    const [[outbox]] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM notification_outbox WHERE household_id IN (?)',
      [[a.id, b.id, d.id]],
    );
    expect(Number(outbox.n)).toBe(0);
    const [[history]] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM registration_history h LEFT JOIN event_registrations r ON r.id = h.registration_id WHERE r.id IS NULL',
    );
    expect(Number(history.n)).toBe(0);
    // the households can still register afterwards
    await register(a.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
  });

  it('checks in: members, offline times on the event day only, idempotent replays, no counter moves', async () => {
    const eventId = await createEvent(ctx.dbs.publicSql);
    const dateId = await createDate(ctx.dbs.publicSql, eventId, {
      capacity: 5,
      dateKey: dateKeyFromToday(0),
    });
    const h = await createHousehold(ctx.dbs.privateSql, undefined, 3);
    const stranger = await createHousehold(ctx.dbs.privateSql);
    const r = await register(h.sub, { eventDateId: dateId, memberIds: h.memberIds.slice(0, 2) });
    const before = await counters(ctx.dbs.publicSql, { dateId });

    const now = Date.now();
    const startOfDay = Date.parse(`${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`);
    const earlierToday = new Date(Math.max(startOfDay, now - 3_600_000)).toISOString();
    const yesterday = new Date(startOfDay - 60_000).toISOString();
    const future = new Date(now + 3_600_000).toISOString();
    for (const [body, status, code] of [
      [{ checkedInAt: yesterday }, 400, 'VALIDATION_FAILED'],
      [{ checkedInAt: future }, 400, 'VALIDATION_FAILED'],
      [{ checkedInAt: '2026-13-01T00:00:00Z' }, 400, 'VALIDATION_FAILED'],
      [{ checkedInAt: earlierToday.slice(0, 10) }, 400, 'VALIDATION_FAILED'],
      [{ memberIds: [h.memberIds[2]] }, 403, 'MEMBER_NOT_IN_HOUSEHOLD'],
      [{ memberIds: [stranger.memberIds[0]] }, 403, 'MEMBER_NOT_IN_HOUSEHOLD'],
      [{ memberIds: ['abc'] }, 400, 'VALIDATION_FAILED'],
      [{ note: 'x' }, 400, 'VALIDATION_FAILED'],
    ] as [object, number, string][]) {
      const res = await checkIn(r.body.id, body);
      expect({ body, status: res.status, code: res.body.code }).toEqual({ body, status, code });
    }
    expect((await rowsOf([h.id]))[0].status).toBe('confirmed');

    const done = await checkIn(
      r.body.id,
      { memberIds: [h.memberIds[0]], checkedInAt: earlierToday },
      'scan-1',
    ).expect(200);
    expect(done.headers['x-already-checked-in']).toBe('false');
    expect(done.body).toMatchObject({
      id: r.body.id,
      status: 'checked_in',
      checkedInAt: earlierToday,
      spots: 1,
    });
    const [members] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT member_id, checked_in FROM event_registration_members WHERE registration_id = ? ORDER BY member_id',
      [r.body.id],
    );
    expect(members.map((m) => [String(m.member_id), Number(m.checked_in)])).toEqual([
      [h.memberIds[0], 1],
      [h.memberIds[1], 0],
    ]);

    const replayed = await checkIn(
      r.body.id,
      { memberIds: [h.memberIds[0]], checkedInAt: earlierToday },
      'scan-1',
    ).expect(200);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.body).toEqual(done.body);
    const again = await checkIn(r.body.id).expect(200);
    expect(again.headers['x-already-checked-in']).toBe('true');
    expect(again.body).toEqual(done.body);

    expect(await counters(ctx.dbs.publicSql, { dateId })).toEqual(before);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, dateId)).toEqual([]);
    const history = await request(ctx.http)
      .get(`/api/v1/admin/registrations/${r.body.id}/history`)
      .set('Authorization', staff)
      .expect(200);
    expect(
      (history.body.items as HistoryRow[]).map((i) => [
        i.action,
        i.fromStatus,
        i.toStatus,
        i.actor,
      ]),
    ).toEqual([
      ['confirmed', 'pending', 'confirmed', h.sub],
      ['checked_in', 'confirmed', 'checked_in', STAFF],
    ]);
    const cancel = await request(ctx.http)
      .delete(`/api/v1/admin/registrations/${r.body.id}`)
      .set('Authorization', staff)
      .expect(409);
    expect(cancel.body.code).toBe('INVALID_STATE');
  });

  it('checks in only confirmed registrations, and only on the event day', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, {
      slots: 1,
      slotCapacity: 1,
      dateKey: dateKeyFromToday(3),
    });
    const [a, b] = await createHouseholds(ctx.dbs.privateSql, 2);
    const confirmed = await register(a.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const waiting = await register(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const notToday = await checkIn(confirmed.body.id).expect(400);
    expect(notToday.body.code).toBe('VALIDATION_FAILED');
    expect((await checkIn(waiting.body.id).expect(409)).body.code).toBe('INVALID_STATE');
    await request(ctx.http)
      .delete(`/api/v1/admin/registrations/${waiting.body.id}`)
      .set('Authorization', staff)
      .expect(200);
    expect((await checkIn(waiting.body.id).expect(409)).body.code).toBe('INVALID_STATE');
    expect((await checkIn('987654321').expect(404)).body.code).toBe('REGISTRATION_NOT_FOUND');
    expect((await checkIn('nope').expect(404)).body.code).toBe('REGISTRATION_NOT_FOUND');
  });

  it("records a promotion another household's cancel caused as the system's act, with that registration as its cause", async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 1 });
    const [a, b, c, d] = await createHouseholds(ctx.dbs.privateSql, 4);
    const ra = await register(a.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const rb = await register(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const rc = await register(c.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[1] });
    const rd = await register(d.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[1] });
    expect([rb.body.status, rd.body.status]).toEqual(['waitlisted', 'waitlisted']);
    const promotion = async (id: string) => {
      const res = await request(ctx.http)
        .get(`/api/v1/admin/registrations/${id}/history`)
        .set('Authorization', staff)
        .expect(200);
      return (res.body.items as HistoryRow[]).find((i) => i.action === 'promoted');
    };

    // the participant cancels their own registration
    await request(ctx.http)
      .delete(`/api/v1/registrations/${ra.body.id}`)
      .set('Authorization', bearer(a.sub))
      .expect(200);
    expect(await promotion(rb.body.id)).toMatchObject({
      actor: 'system',
      fromStatus: 'waitlisted',
      toStatus: 'confirmed',
      causeRegistrationId: ra.body.id,
    });
    // a staff member's cancel: the promotion is still the system's, caused by that registration
    await request(ctx.http)
      .delete(`/api/v1/admin/registrations/${rc.body.id}`)
      .set('Authorization', staff)
      .expect(200);
    expect(await promotion(rd.body.id)).toMatchObject({
      actor: 'system',
      causeRegistrationId: rc.body.id,
    });
    // the cancels themselves stay the acts of who did them
    const cancelHistory = await request(ctx.http)
      .get(`/api/v1/admin/registrations/${rc.body.id}/history`)
      .set('Authorization', staff);
    expect(cancelHistory.body.items.at(-1)).toMatchObject({
      actor: STAFF,
      action: 'cancelled',
      causeRegistrationId: null,
    });
  });

  it("cancels any household's registration as staff: recorded as the staff member's act, the waitlist moves up", async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const [a, b] = await createHouseholds(ctx.dbs.privateSql, 2);
    const ra = await register(a.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const rb = await register(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const del = () =>
      request(ctx.http)
        .delete(`/api/v1/admin/registrations/${ra.body.id}`)
        .set('Authorization', staff)
        .set('Idempotency-Key', 'del-1');
    const cancelled = await del().expect(200);
    expect(cancelled.body).toMatchObject({
      id: ra.body.id,
      status: 'cancelled',
      cancelledAt: expect.any(String),
    });
    expect((await del().expect(200)).headers['idempotent-replayed']).toBe('true');
    const history = await request(ctx.http)
      .get(`/api/v1/admin/registrations/${ra.body.id}/history`)
      .set('Authorization', staff)
      .expect(200);
    expect(history.body.items.at(-1)).toMatchObject({
      actor: STAFF,
      action: 'cancelled',
      fromStatus: 'confirmed',
      toStatus: 'cancelled',
    });
    const promotedHistory = await request(ctx.http)
      .get(`/api/v1/admin/registrations/${rb.body.id}/history`)
      .set('Authorization', staff);
    expect(
      (promotedHistory.body.items as HistoryRow[]).map((i) => [i.action, i.fromStatus, i.toStatus]),
    ).toEqual([
      ['waitlisted', null, 'waitlisted'],
      ['promoted', 'waitlisted', 'confirmed'],
    ]);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
    await request(ctx.http)
      .delete('/api/v1/admin/registrations/987654321')
      .set('Authorization', staff)
      .expect(404);
    await request(ctx.http)
      .get('/api/v1/admin/registrations/987654321/history')
      .set('Authorization', staff)
      .expect(404);
  });
});
