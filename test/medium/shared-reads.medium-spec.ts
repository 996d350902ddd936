import { TestingModule } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { PRIVATE_DB, PUBLIC_DB } from '../../src/database/database.constants';
import { HouseholdRepository } from '../../src/households/household.repository';
import { DateSettingsRepository } from '../../src/registrations/date-settings.repository';
import { ScheduleRepository } from '../../src/schedule/schedule.repository';
import { createTestDatabases, TestDatabases } from '../support/databases';
import { createHousehold, createHouseholds } from '../support/households';
import { createSlotDate, seedDimTimes, updateSlotDate } from '../support/schedule-fixture';
import { createMediumModule } from '../support/medium';

/** A DataSource's `query`, counted, whose next statement can be held after it ran. */
function watch(db: DataSource) {
  const real = db.query.bind(db);
  const spy = jest.spyOn(db, 'query');
  return {
    spy,
    sql: (prefix: string) =>
      (spy.mock.calls as [string, unknown[]][])
        .filter(([sql]) => sql.trimStart().startsWith(prefix))
        .map(([, params]) => params),
    /**
     * The next statement runs as usual, but its caller gets the answer only once released:
     * `ran` resolves when the database has answered it (its snapshot is taken).
     */
    holdNext(): { ran: Promise<void>; release: () => void } {
      let release!: () => void;
      let answered!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const ran = new Promise<void>((resolve) => (answered = resolve));
      spy.mockImplementationOnce(async (...args: Parameters<DataSource['query']>) => {
        const rows: unknown = await real(...args);
        answered();
        await released;
        return rows;
      });
      return { ran, release };
    },
  };
}

// The reads every registration starts with, shared among concurrent callers on real MariaDB:
// calls that arrive while a read is in flight share the next one, so each gets a read that
// started after it asked (never older), and a lone call reads at once.
describe('shared reads of the registration path (medium: real MariaDB)', () => {
  let dbs: TestDatabases;
  let moduleRef: TestingModule;
  let schedule: ScheduleRepository;
  let settings: DateSettingsRepository;
  let households: HouseholdRepository;
  let publicQuery: ReturnType<typeof watch>;
  let privateQuery: ReturnType<typeof watch>;

  beforeAll(async () => {
    dbs = await createTestDatabases();
    await seedDimTimes(dbs.publicSql);
    ({ moduleRef } = await createMediumModule(dbs));
    schedule = moduleRef.get(ScheduleRepository);
    settings = moduleRef.get(DateSettingsRepository);
    households = moduleRef.get(HouseholdRepository);
    publicQuery = watch(moduleRef.get<DataSource>(getDataSourceToken(PUBLIC_DB)));
    privateQuery = watch(moduleRef.get<DataSource>(getDataSourceToken(PRIVATE_DB)));
  });
  beforeEach(() => {
    publicQuery.spy.mockClear();
    privateQuery.spy.mockClear();
  });
  afterAll(async () => {
    publicQuery.spy.mockRestore();
    privateQuery.spy.mockRestore();
    await moduleRef.close();
    await dbs.drop();
  });

  it('findDate: a lone call reads at once; 20 calls while it is in flight share one read', async () => {
    const date = await createSlotDate(dbs.publicSql, { slots: 3 });
    const other = await createSlotDate(dbs.publicSql);

    const lead = schedule.findDate(date.dateId);
    expect(publicQuery.sql('SELECT')).toHaveLength(1);
    const queued = Array.from({ length: 20 }, () => schedule.findDate(date.dateId));
    // another date is not held up by this one
    const elsewhere = schedule.findDate(other.dateId);
    expect(publicQuery.sql('SELECT')).toHaveLength(2);

    const [first, ...rest] = await Promise.all([lead, ...queued]);
    expect(first?.hours[0].slots.map((s) => s.id)).toEqual(date.slotIds);
    expect(rest).toEqual(rest.map(() => first));
    expect((await elsewhere)?.id).toBe(other.dateId);
    // two statements per read (the date, then its slots): the lead, the queued, the other date
    expect(publicQuery.spy).toHaveBeenCalledTimes(6);
  });

  it('findDate: a change committed while a read is in flight is seen by every later call', async () => {
    const date = await createSlotDate(dbs.publicSql, { slots: 1, slotCapacity: 10 });
    const { ran, release } = publicQuery.holdNext();
    const lead = schedule.findDate(date.dateId);
    await ran;
    await updateSlotDate(dbs.publicSql, date, { reserved: 4 });

    const later = [schedule.findDate(date.dateId), schedule.findDate(date.dateId)];
    release();
    // the held statement is the date's (its slots are read after it, as always)
    expect((await lead)?.reserved).toBe(0);
    const seen = await Promise.all(later);
    expect(seen.map((d) => d?.hours[0].slots[0].reserved)).toEqual([4, 4]);
    expect(seen.map((d) => d?.reserved)).toEqual([4, 4]);
  });

  it('findDate: what callers share is frozen', async () => {
    const date = await createSlotDate(dbs.publicSql);
    const found = await schedule.findDate(date.dateId);
    expect(() => found?.hours.pop()).toThrow(TypeError);
    expect(await schedule.findDate(date.dateId)).toEqual(found);
  });

  it('settings.find: shared per date, and a change committed while one is in flight is seen after', async () => {
    const date = await createSlotDate(dbs.publicSql);
    const { ran, release } = privateQuery.holdNext();
    const lead = settings.find(date.dateId);
    await ran;
    await dbs.privateSql.query(
      "INSERT INTO event_date_settings (event_date_id, waitlist_enabled, capacity_unit) VALUES (?, 0, 'person')",
      [date.dateId],
    );
    const later = Array.from({ length: 10 }, () => settings.find(date.dateId));
    release();

    await expect(lead).resolves.toMatchObject({ waitlistEnabled: true, capacityUnit: 'household' });
    const seen = await Promise.all(later);
    expect(seen.map((s) => [s.eventDateId, s.waitlistEnabled, s.capacityUnit])).toEqual(
      later.map(() => [date.dateId, false, 'person']),
    );
    expect(privateQuery.sql('SELECT')).toHaveLength(2);
  });

  it('householdIdOfAccount: calls for many subs while one is in flight: one statement, each its own household', async () => {
    const lead = await createHousehold(dbs.privateSql);
    const many = await createHouseholds(dbs.privateSql, 30);
    privateQuery.spy.mockClear();

    const first = households.householdIdOfAccount(lead.sub);
    expect(privateQuery.sql('SELECT')).toHaveLength(1);
    const queued = many.map((h) => households.householdIdOfAccount(h.sub));

    await expect(first).resolves.toBe(lead.id);
    await expect(Promise.all(queued)).resolves.toEqual(many.map((h) => h.id));
    const reads = privateQuery.sql('SELECT');
    expect(reads).toHaveLength(2);
    expect(reads[1]).toEqual([many.map((h) => h.sub)]);
  });

  it('householdIdOfAccount: an unknown sub, or one spelled in another case, answers as before', async () => {
    const h = await createHousehold(dbs.privateSql, `Mixed-Case-${Date.now()}`);
    const lead = households.householdIdOfAccount('nobody-lead');
    const answers = Promise.all(
      [h.sub, h.sub.toUpperCase(), 'nobody'].map((sub) => households.householdIdOfAccount(sub)),
    );
    await expect(lead).resolves.toBeUndefined();
    // the column's collation ignores case, as `WHERE sub = ?` always did
    await expect(answers).resolves.toEqual([h.id, h.id, undefined]);
  });

  it('householdIdOfAccount: an account linked while a read is in flight is seen by a later call', async () => {
    const h = await createHousehold(dbs.privateSql);
    const { ran, release } = privateQuery.holdNext();
    const lead = households.householdIdOfAccount(h.sub);
    await ran;
    const moved = await createHousehold(dbs.privateSql, `moved-${h.sub}`);
    await dbs.privateSql.query('UPDATE accounts SET household_id = NULL WHERE sub = ?', [
      moved.sub,
    ]);
    await dbs.privateSql.query('UPDATE accounts SET household_id = ? WHERE sub = ?', [
      moved.id,
      h.sub,
    ]);
    const later = households.householdIdOfAccount(h.sub);
    release();

    await expect(lead).resolves.toBe(h.id);
    await expect(later).resolves.toBe(moved.id);
  });

  it('members: calls for many households while one is in flight: one statement, each its own members in id order', async () => {
    const lead = await createHousehold(dbs.privateSql);
    const many = await createHouseholds(dbs.privateSql, [1, 3, 2, 4, 1]);
    // a member added later to an earlier household still comes in id order within it
    const [late] = await createHouseholds(dbs.privateSql, [1]);
    await dbs.privateSql.query('UPDATE household_members SET household_id = ? WHERE id = ?', [
      many[1].id,
      late.memberIds[0],
    ]);
    privateQuery.spy.mockClear();

    const first = households.members(lead.id);
    expect(privateQuery.sql('SELECT')).toHaveLength(1);
    const queued = [...many, lead].map((h) => households.members(h.id));

    expect((await first).map((m) => m.id)).toEqual(lead.memberIds);
    const got = await Promise.all(queued);
    const expected = [...many, lead].map((h) =>
      h === many[1] ? [...h.memberIds, late.memberIds[0]] : h.memberIds,
    );
    expect(got.map((members) => members.map((m) => m.id))).toEqual(expected);
    expect(
      got.every((members, i) => members.every((m) => m.householdId === [...many, lead][i].id)),
    ).toBe(true);
    expect(privateQuery.sql('SELECT')).toHaveLength(2);
  });

  it('members: a member removed while a read is in flight is seen removed by a later call', async () => {
    const h = await createHousehold(dbs.privateSql, undefined, 3);
    const { ran, release } = privateQuery.holdNext();
    const lead = households.members(h.id);
    await ran;
    await dbs.privateSql.query('UPDATE household_members SET is_active = 0 WHERE id = ?', [
      h.memberIds[2],
    ]);
    const later = households.members(h.id);
    release();

    expect((await lead).map((m) => m.isActive)).toEqual([true, true, true]);
    expect((await later).map((m) => m.isActive)).toEqual([true, true, false]);
  });
});
