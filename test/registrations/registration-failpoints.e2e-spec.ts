import request from 'supertest';
import { Failpoints } from '../../src/common/failpoints';
import { RecoveryService } from '../../src/registrations/saga/recovery.service';
import { RegistrationService } from '../../src/registrations/registration.service';
import { bearer, createTestApp, TestContext } from '../support/app';
import { counterDrift, createHousehold, TestHousehold } from '../support/households';
import { createSlotDate, SlotDate } from '../support/schedule-fixture';
import { noMissedPromotion, openSagas, owedOnly, readState, settled } from './registration-state';

// Fault injection between the saga's steps (FAILPOINTS `name:error`, switched at runtime through
// Failpoints.configure). For every failpoint on the path of a register, a move or a cancel, the
// client gets a clean answer, both databases are consistent afterwards, and a retry of the same
// request (same Idempotency-Key) succeeds. What an error leaves behind depends on where it hits:
//
//  compensated  before the private commit: the seat (if taken) is given back and step 1 undone,
//               at once; nothing is left open.
//  committed    after the registration was confirmed and nothing is owed: consistent at once.
//  owed         after the private commit with a release still to do (the old seat of a move, the
//               seat of a cancel): the saga stays `releasing` and the public counters over-count
//               by exactly what it owes (saga invariant 1) until recovery gives it back.
//  bookkeeping  the release reached the counters, its saga row was not closed: counters exact,
//               the saga stays `releasing` until recovery closes it.
//  promotion    the cancel committed and released; the promotion it triggers failed and was
//               compensated. The cancel answers 200; the waitlisted household stays waitlisted
//               although it fits, until a staff promote (or the next release) brings it in.
//
// No case leaves a saga `taking`: an error (unlike a crash) is always known not to have
// committed a take, so it is compensated on the spot.

type Op = 'register' | 'move' | 'cancel';
type Leftover = 'compensated' | 'committed' | 'owed' | 'bookkeeping' | 'promotion';

interface Scene {
  s: SlotDate;
  h: TestHousehold;
  /** h's registration, confirmed in slot 0 (move, cancel) */
  registrationId?: string;
  /** waitlisted behind h in slot 0 (cancel): the cancel promotes it */
  waitingId?: string;
}

const CASES: [string, Op, Leftover][] = [
  ['register.after-intent', 'register', 'compensated'],
  ['take.before-counters', 'register', 'compensated'],
  ['take.after-counters', 'register', 'compensated'],
  ['take.after-confirm', 'register', 'committed'],
  ['take.before-counters', 'move', 'compensated'],
  ['take.after-counters', 'move', 'compensated'],
  ['take.after-confirm', 'move', 'owed'],
  ['release.before-counters', 'move', 'owed'],
  ['release.after-counters', 'move', 'bookkeeping'],
  ['cancel.after-intent', 'cancel', 'owed'],
  ['release.before-counters', 'cancel', 'owed'],
  ['release.after-counters', 'cancel', 'bookkeeping'],
  ['take.before-counters', 'cancel', 'promotion'],
  ['take.after-counters', 'cancel', 'promotion'],
  ['take.after-confirm', 'cancel', 'committed'],
];

describe('registration saga under injected faults (FAILPOINTS name:error)', () => {
  let ctx: TestContext;
  let keys = 0;
  beforeAll(async () => {
    // a one-second lease, so recovery may take over what an error left for it
    ctx = await createTestApp({
      SAGA_GRACE_SECONDS: '1',
      PUBLIC_DB_POOL_SIZE: '4',
      PRIVATE_DB_POOL_SIZE: '4',
    });
    await ctx.app.listen(0, '127.0.0.1');
  });
  afterAll(async () => ctx.close());
  afterEach(() => ctx.app.get(Failpoints).configure([]));

  async function scene(op: Op): Promise<Scene> {
    const s = await createSlotDate(ctx.dbs.publicSql, { slots: 2, slotCapacity: 1 });
    const h = await createHousehold(ctx.dbs.privateSql);
    if (op === 'register') return { s, h };
    const book = (sub: string) =>
      request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[0] });
    const r = await book(h.sub).expect(201);
    if (op === 'move') return { s, h, registrationId: r.body.id };
    const w = await book((await createHousehold(ctx.dbs.privateSql)).sub).expect(201);
    expect(w.body.status).toBe('waitlisted');
    return { s, h, registrationId: r.body.id, waitingId: w.body.id };
  }

  function send(op: Op, sc: Scene, key: string) {
    const req =
      op === 'register'
        ? request(ctx.http)
            .post('/api/v1/registrations')
            .send({ eventDateId: sc.s.dateId, eventSlotId: sc.s.slotIds[0] })
        : op === 'move'
          ? request(ctx.http)
              .patch(`/api/v1/registrations/${sc.registrationId}`)
              .send({ eventSlotId: sc.s.slotIds[1] })
          : request(ctx.http).delete(`/api/v1/registrations/${sc.registrationId}`);
    return req.set('Authorization', bearer(sc.h.sub)).set('Idempotency-Key', key);
  }

  /** What the household's registration looks like once the operation has gone through. */
  const done: Record<Op, (sc: Scene) => object> = {
    register: (sc) => ({ status: 'confirmed', eventSlotId: sc.s.slotIds[0] }),
    move: (sc) => ({ id: sc.registrationId, status: 'confirmed', eventSlotId: sc.s.slotIds[1] }),
    cancel: (sc) => ({ id: sc.registrationId, status: 'cancelled' }),
  };

  async function recover(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await ctx.app.get(RecoveryService).drain(10_000)).toBe(0);
  }

  it.each(CASES)(
    '%s during a %s: clean answer, consistent databases (%s), the retry succeeds',
    async (failpoint, op, leftover) => {
      const sc = await scene(op);
      const key = `fp-${++keys}`;
      const before = await readState(ctx.dbs, sc.s.dateId);

      ctx.app.get(Failpoints).configure([`${failpoint}:error`]);
      const first = await send(op, sc, key);
      ctx.app.get(Failpoints).configure([]);

      // a clean answer: a 2xx, or the contract's error shape
      if (first.status >= 300) {
        expect(first.body).toMatchObject({
          statusCode: first.status,
          code: expect.any(String),
          message: expect.any(String),
        });
      }
      expect(first.status).toBe(
        leftover === 'promotion' || (leftover === 'committed' && op === 'cancel') ? 200 : 500,
      );

      const sagas = await openSagas(ctx.dbs.privateSql, sc.s.dateId);
      expect(sagas.filter((s) => s.state === 'taking')).toEqual([]);
      const state = await readState(ctx.dbs, sc.s.dateId);
      expect(state.regs.filter((r) => r.status === 'pending' || r.pendingSagaId !== null)).toEqual(
        [],
      );
      switch (leftover) {
        case 'compensated':
          // nothing changed: no registration (register) or the old one as it was (move; only its
          // version moved on, with the claim the abandoned saga made)
          expect(
            state.regs.filter((r) => r.status !== 'failed').map(({ version: _, ...r }) => r),
          ).toEqual(before.regs.map(({ version: _, ...r }) => r));
          expect(sagas).toEqual([]);
          expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, sc.s.dateId)).toEqual(
            [],
          );
          break;
        case 'committed':
        case 'promotion':
          expect(sagas).toEqual([]);
          expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, sc.s.dateId)).toEqual(
            [],
          );
          break;
        case 'owed':
          expect(sagas.map((s) => s.state)).toEqual(['releasing']);
          expect(
            await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, sc.s.dateId),
          ).not.toEqual([]);
          expect(await owedOnly(ctx.dbs, sc.s.dateId)).toEqual([]);
          await recover();
          break;
        case 'bookkeeping':
          expect(sagas.map((s) => s.state)).toEqual(['releasing']);
          expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, sc.s.dateId)).toEqual(
            [],
          );
          await recover();
          break;
      }
      if (leftover === 'promotion') {
        const waiting = (await readState(ctx.dbs, sc.s.dateId)).regs.find(
          (r) => r.id === sc.waitingId,
        )!;
        expect(waiting.status).toBe('waitlisted');
        expect(await ctx.app.get(RegistrationService).promoteDate(sc.s.dateId, 'staff')).toEqual([
          sc.waitingId,
        ]);
      }

      // the retry of the same request succeeds (run again, or answered with the saga's outcome)
      const retry = await send(op, sc, key);
      expect(retry.status).toBe(op === 'register' ? 201 : 200);
      expect(retry.body).toMatchObject(done[op](sc));
      if (first.status < 300) expect(retry.body).toEqual(first.body);
      const again = await send(op, sc, key);
      expect([again.status, again.body, again.headers['idempotent-replayed']]).toEqual([
        retry.status,
        retry.body,
        'true',
      ]);

      const after = await readState(ctx.dbs, sc.s.dateId);
      expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, sc.s.dateId)).toEqual([]);
      expect(await settled(ctx.dbs, sc.s.dateId)).toEqual([]);
      expect(noMissedPromotion(after)).toEqual([]);
      if (sc.waitingId)
        expect(after.regs.find((r) => r.id === sc.waitingId)!.status).toBe('confirmed');
    },
  );
});
