import { Injectable } from '@nestjs/common';
import {
  CounterKey,
  CounterLevel,
  CounterRow,
  PublicCounterRepository,
} from '../../../schedule/public-counter.repository';
import { HeldSnapshot, ReconciliationRepository } from './reconciliation.repository';

export interface Drift {
  level: CounterLevel;
  id: number;
  eventDateId: number;
  reserved: number;
  expected: number;
  difference: number;
}

export interface DateReconciliation {
  eventDateId: number;
  drift: Drift[];
  /** not compared: a saga was in flight on the date */
  skipped: boolean;
  inFlight: string[];
  applied: boolean;
}

function expectedOf(row: CounterRow, held: HeldSnapshot): number {
  switch (row.level) {
    case 'slot':
      return held.slots.get(row.id) ?? 0;
    case 'hour':
      return held.hours.get(row.id) ?? 0;
    case 'date':
      return held.date;
  }
}

// Compares the public counters of a date with the private truth (spots of the confirmed and
// checked-in registrations) and, when asked, corrects them. Both happen while every counter of
// the date is row-locked (FOR UPDATE): no take or release can commit in between, and the private
// snapshot is read after the locks are held, so a saga that committed in public before the lock
// is visible in private either as finished or as in flight. A date with a saga in flight (other
// than the caller's own) is skipped: its counters are legitimately ahead of the private side.
// A correction is relative (reserved = reserved + difference) and made under the same locks.
@Injectable()
export class CounterReconciler {
  constructor(
    private readonly counters: PublicCounterRepository,
    private readonly reconciliation: ReconciliationRepository,
  ) {}

  async reconcileDate(
    eventDateId: number,
    options: { apply: boolean; ownedSagaIds?: string[] },
  ): Promise<DateReconciliation> {
    const keys: CounterKey[] = await this.counters.keysOfDate(eventDateId);
    const result: DateReconciliation = {
      eventDateId,
      drift: [],
      skipped: false,
      inFlight: [],
      applied: false,
    };
    if (keys.length === 0) return result;
    await this.counters.adjustLocked(keys, async (rows) => {
      const held = await this.reconciliation.snapshot(eventDateId, options.ownedSagaIds ?? []);
      if (held.inFlight.length > 0) {
        result.skipped = true;
        result.inFlight = held.inFlight;
        return undefined;
      }
      const deltas = new Map<string, number>();
      for (const row of rows) {
        const expected = expectedOf(row, held);
        if (row.reserved === expected) continue;
        result.drift.push({
          level: row.level,
          id: row.id,
          eventDateId,
          reserved: row.reserved,
          expected,
          difference: row.reserved - expected,
        });
        deltas.set(`${row.level}:${row.id}`, expected - row.reserved);
      }
      if (!options.apply || deltas.size === 0) return undefined;
      result.applied = true;
      return deltas;
    });
    return result;
  }
}
