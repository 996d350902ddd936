import { parse } from 'csv-parse/sync';
import type { RowDataPacket } from 'mysql2/promise';
import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { bearer, createTestApp, TestContext, token } from '../support/app';
import { counterDrift, createHousehold, createHouseholds } from '../support/households';
import { connectRealtime } from '../support/realtime';
import { movableRegistration } from '../support/scenarios';
import { counters, createSlotDate, slotCounters } from '../support/schedule-fixture';
import { until } from '../support/wait';

const staff = bearer('staff-req-1', ['staff']);
// recognisable in any output it might leak into
const TEXT = 'Rollstuhl-Zugang: diabetic box ZX-491';

describe('special requirements', () => {
  let ctx: TestContext;
  let url: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
    url = await ctx.listen();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await ctx.close();
  });

  const post = (sub: string, body: object) =>
    request(ctx.http).post('/api/v1/registrations').set('Authorization', bearer(sub)).send(body);
  const patch = (sub: string, id: string, body: object) =>
    request(ctx.http)
      .patch(`/api/v1/registrations/${id}`)
      .set('Authorization', bearer(sub))
      .send(body);
  const stored = async (id: string) => {
    const [[row]] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT special_requirements, version FROM event_registrations WHERE id = ?',
      [id],
    );
    return row as { special_requirements: string | null; version: number };
  };
  const historyOf = async (id: string) =>
    (
      await request(ctx.http)
        .get(`/api/v1/admin/registrations/${id}/history`)
        .set('Authorization', staff)
        .expect(200)
    ).body.items as { action: string; actor: string; fromStatus: string; toStatus: string }[];
  const count = async (sql: string, params: unknown[]) => {
    const [[row]] = await ctx.dbs.privateSql.query<RowDataPacket[]>(sql, params);
    return Number(row.n);
  };
  const connect = async (sub: string): Promise<unknown[]> => {
    const socket = await connectRealtime(url, { auth: { token: token(sub) } });
    sockets.push(socket);
    const received: unknown[] = [];
    socket.onAny((_event: string, ...args: unknown[]) => received.push(args));
    return received;
  };

  it('is stored, returned everywhere (null when none) and shown to staff in the list and the CSV', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const [a, b] = await createHouseholds(ctx.dbs.privateSql, 2);
    const ra = await post(a.sub, {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      specialRequirements: `  ${TEXT} `,
    }).expect(201);
    expect(ra.body.specialRequirements).toBe(TEXT);
    const rb = await post(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] }).expect(201);
    expect(rb.body.specialRequirements).toBeNull();
    expect((await stored(rb.body.id)).special_requirements).toBeNull();

    const one = await request(ctx.http)
      .get(`/api/v1/registrations/${ra.body.id}`)
      .set('Authorization', bearer(a.sub))
      .expect(200);
    expect(one.body.specialRequirements).toBe(TEXT);
    const mine = await request(ctx.http)
      .get('/api/v1/registrations')
      .set('Authorization', bearer(a.sub))
      .expect(200);
    expect(mine.body.items[0].specialRequirements).toBe(TEXT);

    // staff register on a household's behalf with it, too
    const walkIn = await createHousehold(ctx.dbs.privateSql);
    const rw = await request(ctx.http)
      .post('/api/v1/admin/registrations')
      .set('Authorization', staff)
      .send({
        householdId: walkIn.id,
        eventDateId: s.dateId,
        eventSlotId: s.slotIds[0],
        specialRequirements: 'no pork, "halal" please',
      })
      .expect(201);
    expect(rw.body.specialRequirements).toBe('no pork, "halal" please');

    const list = await request(ctx.http)
      .get(`/api/v1/admin/event-dates/${s.dateId}/registrations`)
      .set('Authorization', staff)
      .expect(200);
    expect(
      (list.body.items as { id: string; specialRequirements: string | null }[]).map((i) => [
        i.id,
        i.specialRequirements,
      ]),
    ).toEqual([
      [ra.body.id, TEXT],
      [rb.body.id, null],
      [rw.body.id, 'no pork, "halal" please'],
    ]);

    const csv = await request(ctx.http)
      .get(`/api/v1/admin/event-dates/${s.dateId}/registrations.csv`)
      .set('Authorization', staff)
      .expect(200);
    const rows = parse<Record<string, string>>(csv.text, { bom: true, columns: true });
    // the export is in the order staff work (slot, then name); the ids tell the rows apart
    expect(
      rows
        .map((r) => [r['Registration id'], r['Special requirements']])
        .sort((x, y) => Number(x[0]) - Number(y[0])),
    ).toEqual([
      [ra.body.id, TEXT],
      [rb.body.id, ''],
      [rw.body.id, 'no pork, "halal" please'],
    ]);
  });

  it('refuses over-long text, control characters and non-strings with 400, writing nothing', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 5 });
    const h = await createHousehold(ctx.dbs.privateSql);
    const bad: unknown[] = [
      'x'.repeat(501),
      'line one\nline two',
      'tab\there',
      'bell\u0007',
      'delete\u007f',
      'next line\u0085',
      42,
      ['no pork'],
      { text: 'no pork' },
    ];
    for (const specialRequirements of bad) {
      const res = await post(h.sub, {
        eventDateId: s.dateId,
        eventSlotId: s.slotIds[0],
        specialRequirements,
      });
      expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
      expect(JSON.stringify(res.body)).not.toContain('line two');
    }
    expect(
      await count('SELECT COUNT(*) AS n FROM event_registrations WHERE household_id = ?', [h.id]),
    ).toBe(0);
    const c = await counters(ctx.dbs.publicSql, { dateId: s.dateId, slotId: s.slotIds[0] });
    expect([c.date.reserved, c.slot?.reserved]).toEqual([0, 0]);

    // 500 characters are fine, counted as characters (code points), not UTF-16 units
    const longest = '🥫'.repeat(500);
    const r = await post(h.sub, {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      specialRequirements: longest,
    }).expect(201);
    expect(r.body.specialRequirements).toBe(longest);
    const before = await stored(r.body.id);
    for (const specialRequirements of bad) {
      const res = await patch(h.sub, r.body.id, { specialRequirements });
      expect([res.status, res.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect(await stored(r.body.id)).toEqual(before);
    const nothing = await patch(h.sub, r.body.id, {}).expect(400);
    expect(nothing.body.code).toBe('VALIDATION_FAILED');
  });

  it('changes alone without a counter or a saga, recorded in history without the text, and clears with null or ""', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const [a, b] = await createHouseholds(ctx.dbs.privateSql, 2);
    const confirmed = await post(a.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const waiting = await post(b.sub, { eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    expect([confirmed.body.status, waiting.body.status]).toEqual(['confirmed', 'waitlisted']);
    const sagasBefore = await count('SELECT COUNT(*) AS n FROM registration_sagas', []);
    const countersBefore = await slotCounters(ctx.dbs.publicSql, s);

    for (const [who, r] of [
      [a, confirmed],
      [b, waiting],
    ] as const) {
      const versionBefore = (await stored(r.body.id)).version;
      const set = await patch(who.sub, r.body.id, { specialRequirements: TEXT }).expect(200);
      expect(set.body).toMatchObject({
        specialRequirements: TEXT,
        status: r.body.status,
        waitlistPosition: r.body.waitlistPosition,
        memberIds: r.body.memberIds,
      });
      // the same text again changes nothing, so no second history row
      await patch(who.sub, r.body.id, { specialRequirements: TEXT }).expect(200);
      // a change of case is a change (the column's collation would call them equal)
      await patch(who.sub, r.body.id, { specialRequirements: TEXT.toUpperCase() }).expect(200);
      expect((await stored(r.body.id)).special_requirements).toBe(TEXT.toUpperCase());
      const cleared = await patch(who.sub, r.body.id, { specialRequirements: null }).expect(200);
      expect(cleared.body.specialRequirements).toBeNull();
      expect((await stored(r.body.id)).special_requirements).toBeNull();
      await patch(who.sub, r.body.id, { specialRequirements: 'again' }).expect(200);
      const empty = await patch(who.sub, r.body.id, { specialRequirements: '' }).expect(200);
      expect(empty.body.specialRequirements).toBeNull();
      await patch(who.sub, r.body.id, { specialRequirements: 'once more' }).expect(200);
      const blank = await patch(who.sub, r.body.id, { specialRequirements: '   ' }).expect(200);
      expect(blank.body.specialRequirements).toBeNull();
      expect((await stored(r.body.id)).special_requirements).toBeNull();
      // the text is not part of any counter move: no version bump that would fence out a saga
      expect((await stored(r.body.id)).version).toBe(versionBefore);

      const history = await historyOf(r.body.id);
      const changes = history.filter((h) => h.action === 'requirements_changed');
      expect(changes).toHaveLength(7);
      expect(changes[0]).toMatchObject({
        actor: who.sub,
        fromStatus: r.body.status,
        toStatus: r.body.status,
      });
      expect(JSON.stringify(history)).not.toMatch(/Rollstuhl|again|once more/i);
    }

    expect(await count('SELECT COUNT(*) AS n FROM registration_sagas', [])).toBe(sagasBefore);
    expect(await slotCounters(ctx.dbs.publicSql, s)).toEqual(countersBefore);

    // only a confirmed or waitlisted registration takes changes
    await request(ctx.http)
      .delete(`/api/v1/registrations/${waiting.body.id}`)
      .set('Authorization', bearer(b.sub))
      .expect(200);
    const late = await patch(b.sub, waiting.body.id, { specialRequirements: TEXT }).expect(409);
    expect(late.body.code).toBe('INVALID_STATE');
    expect((await stored(waiting.body.id)).special_requirements).toBeNull();
  });

  it('rides with a party change or a move, all or nothing, and leaves no copy in the saga rows', async () => {
    const { s, h, r } = await movableRegistration(ctx, { specialRequirements: 'first' });

    // refused changes keep the old text
    const full = await patch(h.sub, r.body.id, {
      eventSlotId: s.slotIds[2],
      specialRequirements: TEXT,
    }).expect(409);
    expect(full.body.code).toBe('CAPACITY_FULL');
    const bigger = await patch(h.sub, r.body.id, {
      memberIds: h.memberIds,
      specialRequirements: TEXT,
    }).expect(409);
    expect(bigger.body.code).toBe('CAPACITY_FULL');
    expect((await stored(r.body.id)).special_requirements).toBe('first');

    // a move that takes a seat applies it with the move
    const moved = await patch(h.sub, r.body.id, {
      eventSlotId: s.slotIds[1],
      specialRequirements: TEXT,
    }).expect(200);
    expect([moved.body.eventSlotId, moved.body.specialRequirements]).toEqual([s.slotIds[1], TEXT]);
    // a smaller party (no seat to take) with the text cleared
    await patch(h.sub, r.body.id, { memberIds: h.memberIds.slice(0, 1) }).expect(200);
    const cleared = await patch(h.sub, r.body.id, {
      memberIds: h.memberIds.slice(0, 1),
      specialRequirements: null,
    }).expect(200);
    expect(cleared.body.specialRequirements).toBeNull();

    const actions = (await historyOf(r.body.id)).map((e) => e.action);
    expect(actions).toEqual([
      'confirmed',
      'moved',
      'requirements_changed',
      'party_changed',
      'party_changed',
      'requirements_changed',
    ]);
    const [sagas] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT state, plan FROM registration_sagas WHERE registration_id = ?',
      [r.body.id],
    );
    expect(sagas.length).toBeGreaterThan(0);
    for (const saga of sagas) {
      expect(saga.state).not.toBe('taking');
      expect(String(saga.plan)).not.toContain('Rollstuhl');
      expect(String(saga.plan)).not.toContain('specialRequirements');
    }
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it('never reaches webhook payloads (outbox) or socket.io events', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 1 });
    const [a, b] = await createHouseholds(ctx.dbs.privateSql, 2);
    const heardA = await connect(a.sub);
    const heardB = await connect(b.sub);
    const ra = await post(a.sub, {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      specialRequirements: TEXT,
    }).expect(201);
    const rb = await post(b.sub, {
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      specialRequirements: `${TEXT} (b)`,
    }).expect(201);
    expect(rb.body.status).toBe('waitlisted');
    await patch(a.sub, ra.body.id, { specialRequirements: `${TEXT} v2` }).expect(200);
    await patch(a.sub, ra.body.id, {
      eventSlotId: s.slotIds[1],
      specialRequirements: `${TEXT} v3`,
    }).expect(200);
    // a's move frees slot 0: b is promoted, and told so by socket and webhook
    await request(ctx.http)
      .delete(`/api/v1/registrations/${ra.body.id}`)
      .set('Authorization', bearer(a.sub))
      .expect(200);

    const [outbox] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT kind, payload FROM notification_outbox WHERE registration_id IN (?, ?) ORDER BY id',
      [ra.body.id, rb.body.id],
    );
    expect(outbox.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['confirmed', 'waitlisted', 'moved', 'promoted', 'cancelled']),
    );
    for (const o of outbox) expect(String(o.payload)).not.toContain('ZX-491');

    // the last event for each household has arrived once its final status has
    const statusOf = (heard: unknown[], id: string) =>
      heard
        .map((args) => (args as { id?: string; status?: string }[])[0])
        .filter((e) => e?.id === id)
        .map((e) => e.status);
    await until(() => statusOf(heardA, ra.body.id).includes('cancelled'));
    await until(() => statusOf(heardB, rb.body.id).includes('confirmed'));
    expect(JSON.stringify([heardA, heardB])).not.toContain('ZX-491');
    expect(JSON.stringify([heardA, heardB])).not.toContain('specialRequirements');
  });
});
