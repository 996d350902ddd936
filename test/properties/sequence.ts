import type { TestContext } from '../support/app';
import { participant } from '../support/calls';
import type { TestHousehold } from '../support/households';
import type { DateState } from '../registrations/registration-state';
import {
  Action,
  changeCapacity,
  partyOf,
  registrationBody,
  ShapedDate,
} from '../registrations/registration-scenario';
import { staff } from './property-support';

// Performs one of the sequence model's actions (registration-scenario.ts) without predicting its
// answer, for the properties that hold whatever the answers were. The sequence model itself
// (registration-properties.e2e-spec.ts) predicts every answer.

const latest = (state: DateState, h: TestHousehold) =>
  state.regs.filter((r) => r.householdId === h.id && r.status !== 'failed').at(-1);
const active = (state: DateState, h: TestHousehold) =>
  state.regs.find(
    (r) => r.householdId === h.id && (r.status === 'confirmed' || r.status === 'waitlisted'),
  );

/** Sends `action`; returns the HTTP status (or null when the action had nothing to act on). */
export async function perform(
  ctx: TestContext,
  date: ShapedDate,
  households: TestHousehold[],
  before: DateState,
  action: Action,
): Promise<number | null> {
  const h = 'h' in action ? households[action.h % households.length] : undefined;
  const api = h && participant(ctx.http, h);
  switch (action.kind) {
    case 'register': {
      const party = action.members === 0 ? undefined : partyOf(h!, action.members);
      const target = date.targetOf(action.slot);
      return (await api!.register(registrationBody(target, party, action.joinWaitlist))).status;
    }
    case 'cancel': {
      const r = latest(before, h!);
      return r ? (await api!.cancel(r.id)).status : null;
    }
    case 'move': {
      const r = active(before, h!);
      const to = date.targetOf(action.slot).eventSlotId;
      return r && to !== null ? (await api!.change(r.id, { eventSlotId: to })).status : null;
    }
    case 'party': {
      const r = active(before, h!);
      return r
        ? (await api!.change(r.id, { memberIds: partyOf(h!, action.members) })).status
        : null;
    }
    case 'capacity':
      await changeCapacity(ctx.dbs, date, before, action);
      return null;
    case 'promote':
      return (await staff(ctx.http).promote(date.dateId)).status;
    case 'replay':
      return null;
    case 'burst': {
      // sent at once, as the date's group commit batches them; the highest status answers
      const statuses = await Promise.all(
        action.ops.map(async (o) => {
          const who = households[o.h % households.length];
          const mine = active(before, who);
          const calls = participant(ctx.http, who);
          if (o.cancel && mine) return (await calls.cancel(mine.id)).status;
          return (await calls.register(registrationBody(date.targetOf(o.slot)))).status;
        }),
      );
      return Math.max(...statuses);
    }
  }
}
