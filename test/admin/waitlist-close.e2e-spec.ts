import type { RowDataPacket } from 'mysql2/promise';
import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { AdminRepository } from '../../src/admin/admin.repository';
import { PromoteSteps } from '../../src/registrations/saga/batch/promote.steps';
import { PublicCounterRepository } from '../../src/schedule/public-counter.repository';
import { bearer, createTestApp, TestContext, token } from '../support/app';
import {
  counterDrift,
  createHousehold,
  createHouseholds,
  TestHousehold,
} from '../support/households';
import { connectRealtime } from '../support/realtime';
import { createSlotDate, SlotDate, slotCounters } from '../support/schedule-fixture';
import { until } from '../support/wait';

const STAFF = 'staff-closer-7';
const staff = bearer(STAFF, ['staff']);

interface RegistrationEvent {
  id: string;
  status: string;
  waitlistPosition: number | null;
}

/** A promise with its resolve, to hold a step of a request until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * Holds the next call of `prototype[method]`: `entered` resolves once it has begun, and it goes
 * on into the real method when `releaseAfter(work)` has awaited `work` (whatever its outcome).
 */
function holdNextCall<T extends object>(prototype: T, method: jest.FunctionPropertyNames<T>) {
  const held = gate();
  const entered = gate();
  const real = prototype[method] as (...args: unknown[]) => Promise<unknown>;
  (jest.spyOn(prototype, method) as jest.SpyInstance).mockImplementationOnce(async function (
    this: T,
    ...args: unknown[]
  ) {
    entered.open();
    await held.promise;
    return real.apply(this, args);
  });
  return {
    entered: entered.promise,
    release: held.open,
    async releaseAfter<R>(work: PromiseLike<R>): Promise<R> {
      try {
        return await work;
      } finally {
        held.open();
      }
    },
  };
}

describe('admin: closing the waitlist', () => {
  let ctx: TestContext;
  let url: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    ctx = await createTestApp({ NOTIFY_POLL_MS: '0' });
    url = await ctx.listen();
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await ctx.close();
  });

  const close = (dateId: number | string, key?: string, auth = staff) => {
    const req = request(ctx.http)
      .post(`/api/v1/admin/event-dates/${dateId}/waitlist/close`)
      .set('Authorization', auth);
    if (key) req.set('Idempotency-Key', key);
    return req.send();
  };
  const register = (h: TestHousehold, s: SlotDate, slot = 0) =>
    request(ctx.http)
      .post('/api/v1/registrations')
      .set('Authorization', bearer(h.sub))
      .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[slot] })
      .expect(201)
      .then((res) => res.body as { id: string; status: string });
  const cancel = (h: TestHousehold, id: string) =>
    request(ctx.http)
      .delete(`/api/v1/registrations/${id}`)
      .set('Authorization', bearer(h.sub))
      .expect(200);
  const statusOf = async (id: string) => {
    const [[row]] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      'SELECT status FROM event_registrations WHERE id = ?',
      [id],
    );
    return String(row.status);
  };
  /** A one-seat slot taken by `seated` (rs), with r1 and then r2 on its waitlist. */
  const seatedAndTwoWaiting = async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const [seated, first, second] = await createHouseholds(ctx.dbs.privateSql, 3);
    const rs = await register(seated, s);
    const r1 = await register(first, s);
    const r2 = await register(second, s);
    return { s, seated, rs, r1, r2 };
  };
  const allCounters = (s: SlotDate) =>
    Promise.all(s.slotIds.map((_, slot) => slotCounters(ctx.dbs.publicSql, s, slot)));
  const historyOf = async (id: string) =>
    (
      await request(ctx.http)
        .get(`/api/v1/admin/registrations/${id}/history`)
        .set('Authorization', staff)
        .expect(200)
    ).body.items as { action: string; actor: string; fromStatus: string; toStatus: string }[];
  const listen = async (h: TestHousehold): Promise<RegistrationEvent[]> => {
    const socket = await connectRealtime(url, { auth: { token: token(h.sub) } });
    sockets.push(socket);
    const heard: RegistrationEvent[] = [];
    socket.on('registration', (e: RegistrationEvent) => heard.push(e));
    return heard;
  };

  it('is for staff only, and 404 for an unknown date', async () => {
    const h = await createHousehold(ctx.dbs.privateSql);
    const s = await createSlotDate(ctx.dbs.publicSql);
    const anonymous = await request(ctx.http)
      .post(`/api/v1/admin/event-dates/${s.dateId}/waitlist/close`)
      .expect(401);
    expect(anonymous.body.code).toBe('UNAUTHENTICATED');
    const participant = await close(s.dateId, undefined, bearer(h.sub)).expect(403);
    expect(participant.body.code).toBe('FORBIDDEN');
    for (const id of ['987654', 'abc', '0']) {
      const missing = await close(id).expect(404);
      expect(missing.body.code).toBe('EVENT_DATE_NOT_FOUND');
    }
  });

  it('cancels every waitlisted registration at once, tells each household, moves no counter; a second call closes nothing', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 1 });
    const people = await createHouseholds(ctx.dbs.privateSql, 5);
    const [seated0, wait0a, wait0b, seated1, wait1] = people;
    const r = {
      seated0: await register(seated0, s, 0),
      wait0a: await register(wait0a, s, 0),
      wait0b: await register(wait0b, s, 0),
      seated1: await register(seated1, s, 1),
      wait1: await register(wait1, s, 1),
    };
    expect(Object.values(r).map((x) => x.status)).toEqual([
      'confirmed',
      'waitlisted',
      'waitlisted',
      'confirmed',
      'waitlisted',
    ]);
    const heard = await Promise.all(people.map(listen));
    const before = await allCounters(s);

    const closed = await close(s.dateId, 'close-1').expect(200);
    const waitingIds = [r.wait0a.id, r.wait0b.id, r.wait1.id];
    expect(closed.body).toEqual({ closed: waitingIds });
    // waitlisted registrations hold no seat: nothing moves
    expect(await allCounters(s)).toEqual(before);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);

    for (const id of waitingIds) {
      expect(await statusOf(id)).toBe('cancelled');
      expect((await historyOf(id)).at(-1)).toMatchObject({
        action: 'waitlist_closed',
        actor: STAFF,
        fromStatus: 'waitlisted',
        toStatus: 'cancelled',
      });
    }
    expect([await statusOf(r.seated0.id), await statusOf(r.seated1.id)]).toEqual([
      'confirmed',
      'confirmed',
    ]);
    const [outbox] = await ctx.dbs.privateSql.query<RowDataPacket[]>(
      "SELECT registration_id, payload FROM notification_outbox WHERE kind = 'waitlist_closed' ORDER BY registration_id",
    );
    expect(outbox.map((o) => String(o.registration_id))).toEqual(waitingIds);
    for (const o of outbox) {
      expect(JSON.parse(String(o.payload))).toMatchObject({
        kind: 'waitlist_closed',
        status: 'cancelled',
        eventDateId: s.dateId,
      });
    }
    // each waiting household hears of its own registration, and nobody else of it
    const [, heard0a, heard0b, heardSeated1, heard1] = heard;
    for (const [events, id] of [
      [heard0a, r.wait0a.id],
      [heard0b, r.wait0b.id],
      [heard1, r.wait1.id],
    ] as const) {
      await until(() => events.some((e) => e.id === id && e.status === 'cancelled'));
      expect(events.find((e) => e.status === 'cancelled')).toMatchObject({
        id,
        waitlistPosition: null,
      });
    }
    expect(heardSeated1.filter((e) => e.status === 'cancelled')).toEqual([]);

    // the same key replays the answer; another call finds nobody waiting
    const replay = await close(s.dateId, 'close-1').expect(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual({ closed: waitingIds });
    expect((await close(s.dateId, 'close-2').expect(200)).body).toEqual({ closed: [] });
    expect((await close(s.dateId).expect(200)).body).toEqual({ closed: [] });
    expect(await allCounters(s)).toEqual(before);

    // the freed seat has nobody left to promote
    await cancel(seated0, r.seated0.id);
    expect(await statusOf(r.wait0a.id)).toBe('cancelled');
    const after = await slotCounters(ctx.dbs.publicSql, s);
    expect(after.slot?.reserved).toBe(0);

    const stats = await request(ctx.http)
      .get(`/api/v1/admin/event-dates/${s.dateId}/stats`)
      .set('Authorization', staff)
      .expect(200);
    expect(stats.body).toMatchObject({
      confirmed: 1,
      waitlisted: 0,
      cancelled: 4,
      waitlistClosed: 3,
      promotions: 0,
      waitlistConversion: 0,
    });
  });

  it('waits out a promotion caught between its claim and its confirm: that one ends promoted, the rest closed', async () => {
    const { s, seated, rs, r1, r2 } = await seatedAndTwoWaiting();

    // hold the promotion's public take until the close has found the registration held
    const take = holdNextCall(PublicCounterRepository.prototype, 'allocate');
    const sawBusy = gate();
    const closeWaitlist = AdminRepository.prototype.closeWaitlist;
    jest.spyOn(AdminRepository.prototype, 'closeWaitlist').mockImplementation(async function (
      this: AdminRepository,
      ...args
    ) {
      const outcome = await closeWaitlist.apply(this, args);
      if (outcome.kind === 'busy') sawBusy.open();
      return outcome;
    });

    // supertest sends a request only once it is awaited or then-ed
    const cancelling = cancel(seated, rs.id).then((res) => res);
    await take.entered;
    const closing = close(s.dateId).then((res) => res);
    // (a close that ends without ever seeing it held fails below instead of hanging here)
    await Promise.race([sawBusy.promise, closing]);
    take.release();
    const [closed] = await Promise.all([closing, cancelling]);

    expect(closed.status).toBe(200);
    expect(closed.body).toEqual({ closed: [r2.id] });
    expect([await statusOf(r1.id), await statusOf(r2.id)]).toEqual(['confirmed', 'cancelled']);
    const actions = (await historyOf(r1.id)).map((e) => e.action);
    expect(actions).toEqual(['waitlisted', 'promoted']);
    const c = await slotCounters(ctx.dbs.publicSql, s);
    expect([c.slot?.reserved, c.date.reserved]).toEqual([1, 1]);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After while a promotion holds one past its retries, closing nothing', async () => {
    const { s, seated, rs, r1, r2 } = await seatedAndTwoWaiting();

    const take = holdNextCall(PublicCounterRepository.prototype, 'allocate');
    const cancelling = cancel(seated, rs.id).then((res) => res);
    await take.entered;
    const refused = await take.releaseAfter(close(s.dateId));
    // "busy" is "try again", never the final 409 INVALID_STATE
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('SERVICE_UNAVAILABLE');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await cancelling;
    // nothing was closed by the refused call
    expect((await historyOf(r2.id)).map((e) => e.action)).toEqual(['waitlisted']);

    const closed = await close(s.dateId).expect(200);
    expect(closed.body).toEqual({ closed: [r2.id] });
    expect([await statusOf(r1.id), await statusOf(r2.id)]).toEqual(['confirmed', 'cancelled']);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });

  it('closes a registration a promotion had picked but not yet claimed: the claim then takes no seat', async () => {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const [seated, waiting] = await createHouseholds(ctx.dbs.privateSql, 2);
    const rs = await register(seated, s);
    const rw = await register(waiting, s);

    // hold the promotion just before its claim, close meanwhile, then let it claim
    const claim = holdNextCall(PromoteSteps.prototype, 'claim');
    const cancelling = cancel(seated, rs.id).then((res) => res);
    await claim.entered;
    const closed = await claim.releaseAfter(close(s.dateId));
    expect(closed.status).toBe(200);
    expect(closed.body).toEqual({ closed: [rw.id] });
    await cancelling;

    expect(await statusOf(rw.id)).toBe('cancelled');
    expect((await historyOf(rw.id)).map((e) => e.action)).toEqual([
      'waitlisted',
      'waitlist_closed',
    ]);
    const c = await slotCounters(ctx.dbs.publicSql, s);
    expect([c.slot?.reserved, c.date.reserved]).toEqual([0, 0]);
    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
  });
});
