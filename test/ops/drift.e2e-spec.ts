import request from 'supertest';
import { bearer, createTestApp, testEnv, TestContext } from '../support/app';
import { counterDrift, createHousehold } from '../support/households';
import { createSlotDate, SlotDate } from '../support/schedule-fixture';
import { runCli } from '../support/server';

describe('drift check and backfill', () => {
  let ctx: TestContext;
  let s: SlotDate;
  let env: Record<string, string>;

  beforeAll(async () => {
    ctx = await createTestApp();
    env = testEnv(ctx.dbs);
    s = await createSlotDate(ctx.dbs.publicSql, { slots: 3, slotCapacity: 10 });
    for (let i = 0; i < 6; i++) {
      const h = await createHousehold(ctx.dbs.privateSql);
      await request(ctx.http)
        .post('/api/v1/registrations')
        .set('Authorization', bearer(h.sub))
        .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[i % 3] })
        .expect(201);
    }
  });
  afterAll(async () => ctx.close());

  const bump = (table: string, key: string, id: number, delta: number) =>
    ctx.dbs.publicSql.query(`UPDATE ${table} SET reserved = reserved + ? WHERE ${key} = ?`, [
      delta,
      id,
    ]);

  it('finds nothing on consistent counters (exit 0)', async () => {
    const run = await runCli(['backfill', '--event-date', String(s.dateId)], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('0 counter(s) drifted');
  });

  it('finds exactly the corrupted counters, fixes exactly those while registrations go on, and then finds none', async () => {
    await bump('event_slots', 'event_slot_id', s.slotIds[0], 2); // too high
    await bump('event_hours', 'event_hour_id', s.hourId, -1); // too low
    await bump('event_dates', 'event_date_id', s.dateId, 3); // too high

    const dry = await runCli(['backfill', '--event-date', String(s.dateId)], env);
    expect(dry.code).toBe(1);
    const lines = dry.stdout.split('\n').filter((l) => l.includes('difference'));
    expect(lines.sort()).toEqual(
      [
        `date ${s.dateId} (date ${s.dateId}): reserved 9, expected 6, difference +3`,
        `hour ${s.hourId} (date ${s.dateId}): reserved 5, expected 6, difference -1`,
        `slot ${s.slotIds[0]} (date ${s.dateId}): reserved 4, expected 2, difference +2`,
      ].sort(),
    );

    const report = await request(ctx.http)
      .get(`/api/v1/admin/drift?eventDateId=${s.dateId}`)
      .set('Authorization', bearer('ops', ['staff']))
      .expect(200);
    expect(report.body.items).toEqual(
      expect.arrayContaining([
        { level: 'slot', id: s.slotIds[0], reserved: 4, expected: 2, difference: 2 },
        { level: 'hour', id: s.hourId, reserved: 5, expected: 6, difference: -1 },
        { level: 'date', id: s.dateId, reserved: 9, expected: 6, difference: 3 },
      ]),
    );
    expect(report.body.items).toHaveLength(3);
    await request(ctx.http)
      .get('/api/v1/admin/drift')
      .set('Authorization', bearer('someone'))
      .expect(403);

    // registrations land on the same date while --apply runs: none may be lost by the fix
    const households = await Promise.all(
      Array.from({ length: 8 }, () => createHousehold(ctx.dbs.privateSql)),
    );
    const registering = Promise.all(
      households.map((h, i) =>
        request(ctx.http)
          .post('/api/v1/registrations')
          .set('Authorization', bearer(h.sub))
          .send({ eventDateId: s.dateId, eventSlotId: s.slotIds[(i % 2) + 1] }),
      ),
    );
    const applied = await runCli(['backfill', '--event-date', String(s.dateId), '--apply'], env);
    const answers = await registering;
    expect(answers.map((a) => a.status)).toEqual(households.map(() => 201));
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('fixed slot');

    expect(await counterDrift(ctx.dbs.publicSql, ctx.dbs.privateSql, s.dateId)).toEqual([]);
    const again = await runCli(['backfill'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 counter(s) drifted');
  });

  it('refuses a malformed --from', async () => {
    const run = await runCli(['backfill', '--from', '2026-13-40'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--from');
  });
});
