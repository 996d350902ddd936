import type { RowDataPacket } from 'mysql2/promise';
import request from 'supertest';
import { bearer, createTestApp, TestContext } from '../support/app';
import {
  counterDrift,
  countPeople,
  createHousehold,
  createHouseholds,
} from '../support/households';
import { movableRegistration } from '../support/scenarios';
import {
  counters,
  createDate,
  createEvent,
  createSlotDate,
  dateKeyFromToday,
  slotCounters,
  updateSlotDate,
} from '../support/schedule-fixture';

describe('registrations', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp();
  });
  afterAll(async () => ctx.close());

  const post = (sub: string, body: object, key?: string) => {
    const req = request(ctx.http).post('/api/v1/registrations').set('Authorization', bearer(sub));
    if (key) req.set('Idempotency-Key', key);
    return req.send(body);
  };

  it('books a slot: confirmed, and the slot, hour and date counters each take one', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 3 });
    const h = await createHousehold(ctx.dbs.privateSql);
    const res = await post(h.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(201);
    expect(res.body).toMatchObject({
      householdId: h.id,
      eventId: s.eventId,
      eventDateId: s.dateId,
      eventHourId: s.hourId,
      eventSlotId: s.slotIds[0],
      status: 'confirmed',
      waitlistPosition: null,
      memberIds: h.memberIds,
      partySize: 2,
      spots: 1,
      cancelledAt: null,
      checkedInAt: null,
    });
    expect(typeof res.body.id).toBe('string');
    const c = await slotCounters(ctx.dbs.publicSql, s);
    expect([c.slot.reserved, c.hour.reserved, c.date.reserved]).toEqual([1, 1, 1]);
    await request(ctx.http)
      .get(`/api/v1/registrations/${res.body.id}`)
      .set('Authorization', bearer(h.sub))
      .expect(200);
  });

  it('books a date without slots at date level only, and refuses a slot there', async () => {
    const eventId = await createEvent(ctx.dbs.publicSql);
    const dateId = await createDate(ctx.dbs.publicSql, eventId, { capacity: 5 });
    const h = await createHousehold(ctx.dbs.privateSql);
    const refused = await post(h.sub, { eventDateId: dateId, eventSlotId: 999999 }).expect(422);
    expect(refused.body.code).toBe('SLOT_NOT_ALLOWED');
    const res = await post(h.sub, { eventDateId: dateId, memberIds: [h.memberIds[0]] }).expect(201);
    expect(res.body).toMatchObject({
      status: 'confirmed',
      eventHourId: null,
      eventSlotId: null,
      partySize: 1,
    });
    expect((await counters(ctx.dbs.publicSql, { dateId })).date.reserved).toBe(1);
  });

  it('answers each refusal with its contract code and changes nothing', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const other = await createSlotDate(ctx.dbs.publicSql, { slots: 1 });
    const h = await createHousehold(ctx.dbs.privateSql);
    const stranger = await createHousehold(ctx.dbs.privateSql);
    const past = await createSlotDate(ctx.dbs.publicSql, { dateKey: dateKeyFromToday(-2) });
    const closed = await createSlotDate(ctx.dbs.publicSql, { acceptReservations: 0 });
    const ended = await createSlotDate(ctx.dbs.publicSql, {
      publishedEnd: new Date(Date.now() - 60_000),
    });
    const unpublished = await createSlotDate(ctx.dbs.publicSql, { statusPublish: 0 });
    const cases: [object, string, number, string?][] = [
      [{ eventDateId: s.dateId }, 'SLOT_REQUIRED', 422],
      [{ eventDateId: s.dateId, eventSlotId: other.slotIds[0] }, 'EVENT_SLOT_NOT_FOUND', 404],
      [{ eventDateId: 99999999, eventSlotId: 1 }, 'EVENT_DATE_NOT_FOUND', 404],
      [
        { eventDateId: unpublished.dateId, eventSlotId: unpublished.slotIds[0] },
        'EVENT_DATE_NOT_FOUND',
        404,
      ],
      [{ eventDateId: past.dateId, eventSlotId: past.slotIds[0] }, 'RESERVATIONS_CLOSED', 422],
      [{ eventDateId: closed.dateId, eventSlotId: closed.slotIds[0] }, 'RESERVATIONS_CLOSED', 422],
      [{ eventDateId: ended.dateId, eventSlotId: ended.slotIds[0] }, 'RESERVATIONS_CLOSED', 422],
      [
        { eventDateId: s.dateId, eventSlotId: s.slotIds[0], memberIds: [stranger.memberIds[0]] },
        'MEMBER_NOT_IN_HOUSEHOLD',
        403,
      ],
      [
        { eventDateId: s.dateId, eventSlotId: s.slotIds[0], memberIds: ['abc'] },
        'VALIDATION_FAILED',
        400,
      ],
      [{ eventDateId: s.dateId, eventSlotId: s.slotIds[0], extra: 1 }, 'VALIDATION_FAILED', 400],
      [{ eventDateId: 'x' }, 'VALIDATION_FAILED', 400],
      [{ eventDateId: s.dateId, eventSlotId: s.slotIds[0] }, 'HOUSEHOLD_NOT_FOUND', 404, 'nobody'],
    ];
    for (const [body, code, status, sub] of cases) {
      const res = await post(sub ?? h.sub, body);
      expect({ body, status: res.status, code: res.body.code }).toEqual({ body, status, code });
      expect(res.body).toMatchObject({ statusCode: status, message: expect.any(String) });
    }
    const [rows] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM event_registrations WHERE household_id = ?',
      [h.id],
    );
    expect(Number(rows[0].n)).toBe(0);
    expect((await counters(ctx.dbs.publicSql, { dateId: s.dateId })).date.reserved).toBe(0);
  });

  it('refuses a second active registration for the same date', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2 });
    const h = await createHousehold(ctx.dbs.privateSql);
    await post(h.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(201);
    const again = await post(h.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[1] }).expect(
      409,
    );
    expect(again.body.code).toBe('ALREADY_REGISTERED');
    expect((await counters(ctx.dbs.publicSql, { dateId: s.dateId })).date.reserved).toBe(1);
  });

  it('waitlists when full, refuses when the waitlist is declined, and promotes on cancel', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const [a, b, c, d] = await createHouseholds(ctx.dbs.privateSql, 4);
    const ra = await post(a.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(201);
    const rb = await post(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(201);
    const rc = await post(c.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(201);
    expect([rb.body.status, rb.body.waitlistPosition]).toEqual(['waitlisted', 1]);
    expect([rc.body.status, rc.body.waitlistPosition]).toEqual(['waitlisted', 2]);
    const declined = await post(d.sub, {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      joinWaitlist: false,
    }).expect(409);
    expect(declined.body.code).toBe('CAPACITY_FULL');

    const cancelled = await request(ctx.http)
      .delete(`/api/v1/registrations/${ra.body.id}`)
      .set('Authorization', bearer(a.sub))
      .expect(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledAt: expect.any(String) });
    const promoted = await request(ctx.http)
      .get(`/api/v1/registrations/${rb.body.id}`)
      .set('Authorization', bearer(b.sub));
    expect([promoted.body.status, promoted.body.waitlistPosition]).toEqual(['confirmed', null]);
    const moved = await request(ctx.http)
      .get(`/api/v1/registrations/${rc.body.id}`)
      .set('Authorization', bearer(c.sub));
    expect(moved.body.waitlistPosition).toBe(1);
    const again = await request(ctx.http)
      .delete(`/api/v1/registrations/${ra.body.id}`)
      .set('Authorization', bearer(a.sub))
      .expect(200);
    expect(again.body).toEqual(cancelled.body);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it('does not let a newcomer take a freed seat ahead of the queue', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const [a, b, c] = await createHouseholds(ctx.dbs.privateSql, 3);
    await post(a.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(201);
    const queued = await post(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(
      201,
    );
    expect(queued.body.status).toBe('waitlisted');
    // the schedule's owner adds a seat: it belongs to the household already waiting
    await updateSlotDate(ctx.dbs.publicSql, s, { capacity: 2 });
    const newcomer = await post(c.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(
      201,
    );
    const first = await request(ctx.http)
      .get(`/api/v1/registrations/${queued.body.id}`)
      .set('Authorization', bearer(b.sub));
    expect(first.body.status).toBe('confirmed');
    expect([newcomer.body.status, newcomer.body.waitlistPosition]).toEqual(['waitlisted', 1]);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it('passes over a party too large for the freed room (person unit)', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 3 });
    await countPeople(ctx.dbs.privateSql, s.dateId);
    const big = await createHousehold(ctx.dbs.privateSql, undefined, 3);
    const large = await createHousehold(ctx.dbs.privateSql, undefined, 3);
    const small = await createHousehold(ctx.dbs.privateSql, undefined, 1);
    const first = await createHousehold(ctx.dbs.privateSql, undefined, 1);
    const r1 = await post(first.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(
      201,
    );
    expect(r1.body.spots).toBe(1);
    await post(big.sub, {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      memberIds: big.memberIds.slice(0, 2),
    }).expect(201);
    const wl = await post(large.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(
      201,
    );
    const ws = await post(small.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(
      201,
    );
    expect([wl.body.status, wl.body.spots, ws.body.status]).toEqual([
      'waitlisted',
      3,
      'waitlisted',
    ]);
    await request(ctx.http)
      .delete(`/api/v1/registrations/${r1.body.id}`)
      .set('Authorization', bearer(first.sub))
      .expect(200);
    const [rows] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT id, status FROM event_registrations WHERE id IN (?, ?)',
      [wl.body.id, ws.body.id],
    );
    const status = Object.fromEntries(rows.map((r) => [String(r.id), r.status]));
    expect(status[wl.body.id]).toBe('waitlisted');
    expect(status[ws.body.id]).toBe('confirmed');
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it('moves to another slot and changes the party, all or nothing', async () => {
    const { s, h, r } = await movableRegistration(ctx);
    const patch = (body: object) =>
      request(ctx.http)
        .patch(`/api/v1/registrations/${r.body.id}`)
        .set('Authorization', bearer(h.sub))
        .send(body);

    const moved = await patch({ eventSlotId: s.slotIds[1] }).expect(200);
    expect([moved.body.eventSlotId, moved.body.status]).toEqual([s.slotIds[1], 'confirmed']);
    const full = await patch({ eventSlotId: s.slotIds[2] }).expect(409);
    expect(full.body.code).toBe('CAPACITY_FULL');
    const bigger = await patch({ memberIds: h.memberIds }).expect(409);
    expect(bigger.body.code).toBe('CAPACITY_FULL');
    const unchanged = await request(ctx.http)
      .get(`/api/v1/registrations/${r.body.id}`)
      .set('Authorization', bearer(h.sub));
    expect(unchanged.body).toMatchObject({
      eventSlotId: s.slotIds[1],
      memberIds: [h.memberIds[0]],
      spots: 1,
    });
    // exactly as it was, updatedAt too: the refused changes' claims are not changes
    expect(unchanged.body).toEqual(moved.body);
    const c = await slotCounters(ctx.dbs.publicSql, s);
    expect(c.slot.reserved).toBe(0);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it("hides another household's registration exactly like a missing one", async () => {
    const s = await createSlotDate(ctx.dbs.publicSql);
    const owner = await createHousehold(ctx.dbs.privateSql);
    const other = await createHousehold(ctx.dbs.privateSql);
    const r = await post(owner.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(
      201,
    );
    const theirs = await request(ctx.http)
      .get(`/api/v1/registrations/${r.body.id}`)
      .set('Authorization', bearer(other.sub));
    const missing = await request(ctx.http)
      .get('/api/v1/registrations/987654321')
      .set('Authorization', bearer(other.sub));
    expect([theirs.status, theirs.body]).toEqual([missing.status, missing.body]);
    expect(theirs.body.code).toBe('REGISTRATION_NOT_FOUND');
    await request(ctx.http)
      .delete(`/api/v1/registrations/${r.body.id}`)
      .set('Authorization', bearer(other.sub))
      .expect(404);
    await request(ctx.http)
      .patch(`/api/v1/registrations/${r.body.id}`)
      .set('Authorization', bearer(other.sub))
      .send({ eventSlotId: s.slotIds[1] })
      .expect(404);
    const list = await request(ctx.http)
      .get('/api/v1/registrations')
      .set('Authorization', bearer(owner.sub))
      .expect(200);
    expect(list.body).toMatchObject({ total: 1, page: 1, pageSize: 50 });
  });

  it('replays an idempotent request, refuses a reused key with another body', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2 });
    const h = await createHousehold(ctx.dbs.privateSql);
    const first = await post(
      h.sub,
      { eventDateId: s.dateId, eventSlotId: s.slotIds[0] },
      'key-1',
    ).expect(201);
    const replay = await post(
      h.sub,
      { eventDateId: s.dateId, eventSlotId: s.slotIds[0] },
      'key-1',
    ).expect(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    const reused = await post(
      h.sub,
      { eventDateId: s.dateId, eventSlotId: s.slotIds[1] },
      'key-1',
    ).expect(422);
    expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const conflict = await post(
      h.sub,
      { eventDateId: s.dateId, eventSlotId: s.slotIds[1] },
      'key-2',
    ).expect(409);
    const conflictReplay = await post(
      h.sub,
      { eventDateId: s.dateId, eventSlotId: s.slotIds[1] },
      'key-2',
    ).expect(409);
    expect(conflictReplay.body).toEqual(conflict.body);
    expect(conflictReplay.headers['idempotent-replayed']).toBe('true');
    expect((await counters(ctx.dbs.publicSql, { dateId: s.dateId })).date.reserved).toBe(1);
  });
});
