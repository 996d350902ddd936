import { TestingModule } from '@nestjs/testing';
import { DateSettingsRepository } from '../../src/registrations/date-settings.repository';
import { RegistrationRepository } from '../../src/registrations/registration.repository';
import type { Registration } from '../../src/registrations/registration.types';
import { ChangeBatch, ChangeInput } from '../../src/registrations/saga/change.batch';
import { ChangeStepsRepository } from '../../src/registrations/saga/change-steps.repository';
import { RecoveryService } from '../../src/registrations/saga/recovery.service';
import { RegistrationBatch } from '../../src/registrations/saga/registration.batch';
import { changeRecord, legsOfChange } from '../../src/registrations/saga/saga.legs';
import type { SagaPlan } from '../../src/registrations/saga/saga.types';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { counterDrift, createHousehold, TestHousehold } from '../support/households';
import { counters, createSlotDate, seedDimTimes, SlotDate } from '../support/schedule-fixture';
import { createMediumModule } from '../support/medium';

// Party changes and moves sent at once to one date form one batch (ChangeBatch.run, called once
// with all of them): one private transaction for the claims, one public allocation in arrival
// order (first fit), one private settle. Real repositories on real MariaDB; after each batch
// the public counters equal the private truth and no saga is left open.
describe('ChangeBatch (medium: changes of one date in one batch, real MariaDB)', () => {
  let dbs: TestDatabases;
  let moduleRef: TestingModule;
  let batch: RegistrationBatch;
  let changes: ChangeBatch;
  let settings: DateSettingsRepository;
  let registrations: RegistrationRepository;
  let changeSteps: ChangeStepsRepository;
  let recovery: RecoveryService;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    ({ moduleRef } = await createMediumModule(dbs, { SAGA_GRACE_SECONDS: '30' }));
    batch = moduleRef.get(RegistrationBatch);
    changes = moduleRef.get(ChangeBatch);
    settings = moduleRef.get(DateSettingsRepository);
    registrations = moduleRef.get(RegistrationRepository);
    changeSteps = moduleRef.get(ChangeStepsRepository);
    recovery = moduleRef.get(RecoveryService);
  });
  afterAll(async () => {
    await moduleRef.close();
    await dbs.drop();
  });

  /** A date counted in persons (a party of n takes n spots), slots of `slotCapacity`. */
  async function personDate(slots: number, slotCapacity: number): Promise<SlotDate> {
    const s = await createSlotDate(dbs.publicSql, { slots, slotCapacity });
    await dbs.privateSql.query(
      "INSERT INTO event_date_settings (event_date_id, capacity_unit) VALUES (?, 'person')",
      [s.dateId],
    );
    return s;
  }

  interface Booked {
    h: TestHousehold;
    r: Registration;
  }

  /** A household of five whose party of `party` is registered (confirmed or waitlisted) in `slot`. */
  async function book(s: SlotDate, slot: number, party: number): Promise<Booked> {
    const h = await createHousehold(dbs.privateSql, undefined, 5);
    const { registration } = await batch.register(
      {
        householdId: h.id,
        eventId: s.eventId,
        target: { eventDateId: s.dateId, eventHourId: s.hourId, eventSlotId: s.slotIds[slot] },
        partySize: party,
        spots: party,
        memberIds: h.memberIds.slice(0, party),
        joinWaitlist: true,
        specialRequirements: null,
        actor: h.sub,
      },
      await settings.find(s.dateId),
    );
    return { h, r: (await registrations.findById(registration.id))! };
  }

  const resize = ({ h, r }: Booked, party: number): ChangeInput => ({
    registration: r,
    plan: planOf(r, { partySize: party, spots: party, memberIds: h.memberIds.slice(0, party) }),
    actor: h.sub,
  });

  const move = ({ h, r }: Booked, s: SlotDate, slot: number): ChangeInput => ({
    registration: r,
    plan: planOf(r, { eventSlotId: s.slotIds[slot] }),
    actor: h.sub,
  });

  function planOf(r: Registration, change: Partial<SagaPlan>): SagaPlan {
    return {
      eventHourId: r.eventHourId,
      eventSlotId: r.eventSlotId,
      partySize: r.partySize,
      spots: r.spots,
      memberIds: r.memberIds,
      ...change,
    };
  }

  /**
   * Sends the changes at once behind a staff promotion of the date (which runs alone first), so
   * they queue together and are the date's next batch; checks that they ran as ONE batch.
   */
  async function together(s: SlotDate, inputs: ChangeInput[]): Promise<string[]> {
    const run = jest.spyOn(changes, 'run');
    try {
      const ahead = batch.promoteDate(s.dateId, 'staff');
      const outcomes = await Promise.all(inputs.map((input) => batch.change(input)));
      await ahead;
      expect(run.mock.calls.map(([batched]) => batched.length)).toEqual([inputs.length]);
      return outcomes.map((o) => o.kind);
    } finally {
      run.mockRestore();
    }
  }

  const reserved = async (s: SlotDate, slot: number) =>
    Number(
      (await counters(dbs.publicSql, { dateId: s.dateId, slotId: s.slotIds[slot] })).slot.reserved,
    );

  async function current(b: Booked) {
    const r = (await registrations.findById(b.r.id))!;
    return { status: r.status, slot: r.eventSlotId, spots: r.spots, members: r.memberIds };
  }

  // counters equal the private truth, and every saga of the date finished
  async function consistent(s: SlotDate): Promise<void> {
    expect(await counterDrift(dbs.publicSql, dbs.privateSql, s.dateId)).toEqual([]);
    const [open] = await dbs.privateSql.query<any[]>(
      "SELECT id, kind, state FROM registration_sagas WHERE event_date_id = ? AND state IN ('taking', 'releasing')",
      [s.dateId],
    );
    expect(open).toEqual([]);
  }

  async function changeSagas(b: Booked) {
    const [rows] = await dbs.privateSql.query<any[]>(
      "SELECT state, outcome FROM registration_sagas WHERE registration_id = ? AND kind = 'change' ORDER BY id",
      [b.r.id],
    );
    return rows as { state: string; outcome: string | null }[];
  }

  it('growing parties compete for the last seats: first fit in arrival order, the rest full and unchanged', async () => {
    const s = await personDate(1, 10);
    const parties = [
      await book(s, 0, 2),
      await book(s, 0, 2),
      await book(s, 0, 2),
      await book(s, 0, 2),
    ];
    expect(await reserved(s, 0)).toBe(8);
    const [a, b, c, d] = parties;
    const before = await Promise.all(parties.map(current));

    // two seats left: a (+3) does not fit, b (+1) does, c (+2) no longer does, d (+1) does
    const outcomes = await together(s, [resize(a, 5), resize(b, 3), resize(c, 4), resize(d, 3)]);

    expect(outcomes).toEqual(['full', 'changed', 'full', 'changed']);
    expect(await reserved(s, 0)).toBe(10);
    expect(await current(a)).toEqual(before[0]);
    expect(await current(c)).toEqual(before[2]);
    expect(await current(b)).toMatchObject({ spots: 3, members: b.h.memberIds.slice(0, 3) });
    expect(await current(d)).toMatchObject({ spots: 3, members: d.h.memberIds.slice(0, 3) });
    expect(await changeSagas(a)).toEqual([{ state: 'failed', outcome: 'CAPACITY_FULL' }]);
    expect(await changeSagas(b)).toEqual([{ state: 'done', outcome: 'confirmed' }]);
    await consistent(s);
  });

  it('moves between slots: each slot counted exactly, the move that finds no room stays', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 3, slotCapacity: 2 });
    const [a, b] = [await book(s, 0, 1), await book(s, 0, 1)];
    const [c, d] = [await book(s, 1, 1), await book(s, 1, 1)];
    const e = await book(s, 2, 1);

    // slot 2 has one seat: a gets it, c (after a) does not; b finds slot 1 full (its holders
    // give nothing back in this batch)
    const outcomes = await together(s, [move(a, s, 2), move(c, s, 2), move(b, s, 1)]);

    expect(outcomes).toEqual(['changed', 'full', 'full']);
    expect([await reserved(s, 0), await reserved(s, 1), await reserved(s, 2)]).toEqual([1, 2, 2]);
    expect((await current(a)).slot).toBe(s.slotIds[2]);
    expect([(await current(b)).slot, (await current(c)).slot]).toEqual([
      s.slotIds[0],
      s.slotIds[1],
    ]);
    expect([(await current(d)).slot, (await current(e)).slot]).toEqual([
      s.slotIds[1],
      s.slotIds[2],
    ]);
    expect(await changeSagas(a)).toEqual([{ state: 'done', outcome: 'confirmed' }]);
    await consistent(s);
  });

  it('a shrink and a grow in one batch: the grow gets the seats the shrink gives back', async () => {
    const s = await personDate(1, 6);
    const [a, b] = [await book(s, 0, 3), await book(s, 0, 3)];
    expect(await reserved(s, 0)).toBe(6);

    // the grow arrives first; the changes that take nothing run first, so the room is there
    const outcomes = await together(s, [resize(b, 5), resize(a, 1)]);

    expect(outcomes).toEqual(['changed', 'changed']);
    expect([(await current(a)).spots, (await current(b)).spots]).toEqual([1, 5]);
    expect(await reserved(s, 0)).toBe(6);
    expect(await changeSagas(a)).toEqual([{ state: 'done', outcome: null }]);
    await consistent(s);
  });

  it('the room a batch of changes frees goes to the waitlist in the same batch', async () => {
    const s = await personDate(1, 4);
    const [a, b] = [await book(s, 0, 2), await book(s, 0, 2)];
    const waiting = await book(s, 0, 2);
    expect(waiting.r.status).toBe('waitlisted');

    const outcomes = await together(s, [resize(a, 1), resize(b, 1)]);

    expect(outcomes).toEqual(['changed', 'changed']);
    expect((await current(waiting)).status).toBe('confirmed');
    expect(await reserved(s, 0)).toBe(4);
    await consistent(s);
  });

  it('a change whose registration changed meanwhile is busy alone; the others go through', async () => {
    const s = await personDate(1, 10);
    const [a, b, c, d] = [
      await book(s, 0, 2),
      await book(s, 0, 2),
      await book(s, 0, 3),
      await book(s, 0, 3),
    ];
    // a (a grow) and c (a shrink) were read before something else changed them
    await dbs.privateSql.query(
      'UPDATE event_registrations SET version = version + 1 WHERE id IN (?)',
      [[a.r.id, c.r.id]],
    );
    const before = await Promise.all([a, c].map(current));

    const outcomes = await together(s, [resize(a, 3), resize(b, 3), resize(c, 1), resize(d, 1)]);

    expect(outcomes).toEqual(['busy', 'changed', 'busy', 'changed']);
    expect([await current(a), await current(c)]).toEqual(before);
    // nothing of the busy ones was written: no saga row, no history entry
    expect([await changeSagas(a), await changeSagas(c)]).toEqual([[], []]);
    const [history] = await dbs.privateSql.query<any[]>(
      'SELECT registration_id, action FROM registration_history WHERE registration_id IN (?) ORDER BY id',
      [[a.r.id, b.r.id, c.r.id, d.r.id]],
    );
    expect(
      history
        .filter((row: any) => row.action === 'party_changed')
        .map((row: any) => String(row.registration_id))
        .sort(),
    ).toEqual([b.r.id, d.r.id].sort());
    expect(await reserved(s, 0)).toBe(2 + 3 + 3 + 1);
    await consistent(s);
  });

  // what a process that died now leaves: its sagas' leases run out
  async function dieNow(s: SlotDate): Promise<void> {
    await dbs.privateSql.query(
      "UPDATE registration_sagas SET lease_until = NOW(6) - INTERVAL 1 SECOND WHERE event_date_id = ? AND state IN ('taking', 'releasing')",
      [s.dateId],
    );
  }

  it('crash after the claims of a change batch: recovery resumes each change (moved, or full and unchanged)', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 2, slotCapacity: 2 });
    const [a, b] = [await book(s, 0, 1), await book(s, 0, 1)];
    const c = await book(s, 1, 1);
    // step 1 of a batch of two moves into slot 1, which has one seat: then the process dies
    const inputs = [move(a, s, 1), move(b, s, 1)];
    const claims = await changeSteps.begin(
      inputs.map(({ registration: r, plan, actor }) => ({
        registrationId: r.id,
        expectedVersion: r.version,
        allowed: [r.status],
        kind: 'change' as const,
        eventDateId: r.eventDateId,
        ...legsOfChange(r, plan),
        plan: { ...plan, netMove: true },
        actor,
        leaseSeconds: 30,
      })),
    );
    expect(claims.map((x) => x.kind)).toEqual(['claimed', 'claimed']);
    await dieNow(s);

    const outcomes = await recovery.tick();

    expect([...outcomes.values()].sort()).toEqual(['confirmed', 'full']);
    const slots = [(await current(a)).slot, (await current(b)).slot].sort();
    expect(slots).toEqual([s.slotIds[0], s.slotIds[1]].sort());
    expect((await current(c)).slot).toBe(s.slotIds[1]);
    expect([await reserved(s, 0), await reserved(s, 1)]).toEqual([1, 2]);
    await consistent(s);
  });

  it('crash after a batch of smaller parties committed, before the release: recovery gives the spots back', async () => {
    const s = await personDate(1, 10);
    const [a, b] = [await book(s, 0, 3), await book(s, 0, 3)];
    const inputs = [resize(a, 1), resize(b, 2)];
    const applied = await changeSteps.applyWithoutTake(
      inputs.map(({ registration: r, plan, actor }) => ({
        registration: r,
        plan,
        release: legsOfChange(r, plan).release,
        actor,
        leaseSeconds: 30,
        history: {
          ...changeRecord(false).history,
          fromStatus: r.status,
          toStatus: r.status,
          spots: plan.spots,
          eventSlotId: plan.eventSlotId,
        },
        outbox: changeRecord(false).outbox,
      })),
    );
    expect(applied.map((x) => x.kind)).toEqual(['claimed', 'claimed']);
    expect(await reserved(s, 0)).toBe(6);
    await dieNow(s);

    const outcomes = await recovery.tick();

    expect([...outcomes.values()]).toEqual(['released', 'released']);
    expect([(await current(a)).spots, (await current(b)).spots]).toEqual([1, 2]);
    expect(await reserved(s, 0)).toBe(3);
    await consistent(s);
  });
});
