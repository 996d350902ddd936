import type { TestContext } from './app';
import { participant } from './calls';
import { countPeople, createHousehold } from './households';
import { createSlotDate } from './schedule-fixture';

/**
 * A date counted in people with three one-seat slots, the third taken by another household, and
 * `h` (two members) confirmed in the first with one of them (`body` adds to its request): room
 * to move to the second slot, none in the third, none for both members.
 */
export async function movableRegistration(ctx: TestContext, body: object = {}) {
  const s = await createSlotDate(ctx.dbs.publicSql, { slots: 3, slotCapacity: 1 });
  await countPeople(ctx.dbs.privateSql, s.dateId);
  const h = await createHousehold(ctx.dbs.privateSql, undefined, 2);
  const blocker = await createHousehold(ctx.dbs.privateSql, undefined, 1);
  await participant(ctx.http, blocker)
    .register({ eventDateId: s.dateId, eventSlotId: s.slotIds[2] })
    .expect(201);
  const r = await participant(ctx.http, h)
    .register({
      eventDateId: s.dateId,
      eventSlotId: s.slotIds[0],
      memberIds: [h.memberIds[0]],
      ...body,
    })
    .expect(201);
  return { s, h, r };
}
