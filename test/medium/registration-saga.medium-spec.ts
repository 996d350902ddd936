import { TestingModule } from '@nestjs/testing';
import { FailpointError, Failpoints } from '../../src/common/failpoints';
import { RegistrationRepository } from '../../src/registrations/registration.repository';
import { RecoveryService } from '../../src/registrations/saga/recovery.service';
import { DateSettingsRepository } from '../../src/registrations/date-settings.repository';
import { CancelSteps } from '../../src/registrations/saga/batch/cancel.steps';
import { RegisterSteps } from '../../src/registrations/saga/batch/register.steps';
import { RegistrationBatch } from '../../src/registrations/saga/registration.batch';
import type { NewRegistration } from '../../src/registrations/saga/saga.types';
import { SagaRepository } from '../../src/registrations/saga/saga.repository';
import { countersOf, PublicCounterRepository } from '../../src/schedule/public-counter.repository';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createHousehold } from '../support/households';
import { counters, createSlotDate, seedDimTimes, SlotDate } from '../support/schedule-fixture';
import { createMediumModule } from '../support/medium';

// The saga and its recovery called directly, with their real repositories on real MariaDB
// databases (no HTTP, no mocks): one short test per branch and per crash point. A crash is
// simulated by running the steps up to the point, then expiring the saga's lease, as a
// process that died there would leave it.
describe('RegistrationSaga and RegistrationBatch (medium: real repositories, real MariaDB)', () => {
  let dbs: TestDatabases;
  let moduleRef: TestingModule;
  let batch: RegistrationBatch;
  let registerSteps: RegisterSteps;
  let cancelSteps: CancelSteps;
  let settings: DateSettingsRepository;
  let sagas: SagaRepository;
  let registrations: RegistrationRepository;
  let publicCounters: PublicCounterRepository;
  let recovery: RecoveryService;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    ({ moduleRef } = await createMediumModule(dbs, { SAGA_GRACE_SECONDS: '30' }));
    batch = moduleRef.get(RegistrationBatch);
    registerSteps = moduleRef.get(RegisterSteps);
    cancelSteps = moduleRef.get(CancelSteps);
    settings = moduleRef.get(DateSettingsRepository);
    sagas = moduleRef.get(SagaRepository);
    registrations = moduleRef.get(RegistrationRepository);
    publicCounters = moduleRef.get(PublicCounterRepository);
    recovery = moduleRef.get(RecoveryService);
  });
  afterAll(async () => {
    await moduleRef.close();
    await dbs.drop();
  });
  afterEach(() => moduleRef.get(Failpoints).configure([]));

  async function newRegistration(
    s: SlotDate,
    overrides: Partial<NewRegistration> = {},
  ): Promise<NewRegistration> {
    const h = await createHousehold(dbs.privateSql);
    return {
      householdId: h.id,
      eventId: s.eventId,
      target: { eventDateId: s.dateId, eventHourId: s.hourId, eventSlotId: s.slotIds[0] },
      partySize: h.memberIds.length,
      spots: 1,
      memberIds: h.memberIds,
      joinWaitlist: true,
      specialRequirements: null,
      actor: h.sub,
      ...overrides,
    };
  }

  // a registration through the date's batch (alone in it here), as the service sends one
  async function register(input: NewRegistration) {
    const { registration, outcome } = await batch.register(
      input,
      await settings.find(input.target.eventDateId),
    );
    return { registrationId: registration.id, outcome };
  }

  // step 1 of a register batch alone: the intent a crash right after it leaves
  async function beginRegister(input: NewRegistration): Promise<string> {
    const [intent] = await registerSteps.begin([input], 30);
    if (!('registrationId' in intent)) throw intent;
    return intent.registrationId;
  }

  const slotReserved = async (s: SlotDate) =>
    Number(
      (await counters(dbs.publicSql, { dateId: s.dateId, slotId: s.slotIds[0] })).slot.reserved,
    );

  async function sagaOf(registrationId: string) {
    const [rows] = await dbs.privateSql.query<any[]>(
      'SELECT state, outcome FROM registration_sagas WHERE registration_id = ? ORDER BY id',
      [registrationId],
    );
    return rows as { state: string; outcome: string | null }[];
  }

  // what a process that died now leaves: its sagas' leases run out
  async function dieNow(): Promise<void> {
    await dbs.privateSql.query(
      "UPDATE registration_sagas SET lease_until = NOW(6) - INTERVAL 1 SECOND WHERE state IN ('taking', 'releasing')",
    );
  }

  it('register with room: confirmed, the seat counted once, the saga done', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const result = await register(await newRegistration(s));
    expect(result.outcome).toBe('confirmed');
    expect((await registrations.findById(result.registrationId))?.status).toBe('confirmed');
    expect(await slotReserved(s)).toBe(1);
    expect(await sagaOf(result.registrationId)).toEqual([{ state: 'done', outcome: 'confirmed' }]);
  });

  it('register with no room, waitlist allowed: waitlisted, no counter moved', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    await register(await newRegistration(s));
    const result = await register(await newRegistration(s));
    expect(result.outcome).toBe('waitlisted');
    const r = await registrations.findById(result.registrationId);
    expect(r?.status).toBe('waitlisted');
    expect(r?.waitlistPosition).toBe(1);
    expect(await slotReserved(s)).toBe(1);
  });

  it('register with no room, waitlist declined: full, the registration removed', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    await register(await newRegistration(s));
    const result = await register(await newRegistration(s, { joinWaitlist: false }));
    expect(result.outcome).toBe('full');
    expect(await registrations.findById(result.registrationId)).toBeUndefined();
    expect(await sagaOf(result.registrationId)).toEqual([
      { state: 'failed', outcome: 'CAPACITY_FULL' },
    ]);
  });

  it('an error after the public take is compensated: seat given back, step 1 undone', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const input = await newRegistration(s);
    moduleRef.get(Failpoints).configure(['take.after-counters:error']);
    await expect(register(input)).rejects.toBeInstanceOf(FailpointError);
    expect(await slotReserved(s)).toBe(0);
    const [rows] = await dbs.privateSql.query<any[]>(
      'SELECT id FROM event_registrations WHERE household_id = ?',
      [input.householdId],
    );
    expect(rows).toHaveLength(0);
  });

  it('cancel of a confirmed registration: cancelled, the seat given back, the saga done', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const { registrationId } = await register(await newRegistration(s));
    const registration = await registrations.findById(registrationId);
    const cancelled = await batch.cancel(registration!, 'tester');
    expect(cancelled).toMatchObject({ id: registrationId, status: 'cancelled' });
    expect((await registrations.findById(registrationId))?.status).toBe('cancelled');
    expect(await slotReserved(s)).toBe(0);
    expect((await sagaOf(registrationId)).map((x) => x.state)).toEqual(['done', 'done']);
  });

  it('cancel of a registration another saga holds: busy, nothing written', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const { registrationId } = await register(await newRegistration(s));
    const stale = await registrations.findById(registrationId);
    // a change in between bumps the version the cancel was read at
    await dbs.privateSql.query(
      'UPDATE event_registrations SET version = version + 1 WHERE id = ?',
      [registrationId],
    );
    expect(await batch.cancel(stale!, 'tester')).toBe('busy');
    expect((await registrations.findById(registrationId))?.status).toBe('confirmed');
    expect(await slotReserved(s)).toBe(1);
  });

  it('crash after step 1 (intent written, nothing taken): recovery takes and confirms', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const input = await newRegistration(s);
    const registrationId = await beginRegister(input);
    await dieNow();
    const outcomes = await recovery.tick();
    expect([...outcomes.values()]).toEqual(['confirmed']);
    expect((await registrations.findById(registrationId))?.status).toBe('confirmed');
    expect(await slotReserved(s)).toBe(1);
  });

  it('crash after the public take, before confirm: recovery counts the seat once', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 2 });
    const input = await newRegistration(s);
    const registrationId = await beginRegister(input);
    expect(await publicCounters.takeKeys(countersOf(input.target), 1)).toBe(true);
    await dieNow();
    await recovery.tick();
    expect((await registrations.findById(registrationId))?.status).toBe('confirmed');
    expect(await slotReserved(s)).toBe(1);
  });

  it('crash after a cancel committed, before the release: recovery gives the seat back', async () => {
    const s = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 1 });
    const { registrationId } = await register(await newRegistration(s));
    const registration = await registrations.findById(registrationId);
    // step 1 of a cancel batch alone: what a crash right after its commit leaves
    const [intent] = await cancelSteps.begin(
      [{ registration: registration!, actor: 'tester' }],
      30,
    );
    expect(intent?.owes).toBe(true);
    expect(await slotReserved(s)).toBe(1);
    await dieNow();
    const outcomes = await recovery.tick();
    expect([...outcomes.values()]).toEqual(['released']);
    expect(await slotReserved(s)).toBe(0);
    expect(await sagas.unfinishedCount()).toBe(0);
  });
});
