import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../../../database/database.constants';
import { translatePrivateError } from '../../../database/db-errors';
import { RegistrationRepository } from '../../registration.repository';
import { SagaRepository } from '../saga.repository';

/** What the private side says the counters of one date should hold, as of one instant. */
export interface HeldSnapshot {
  slots: Map<number, number>;
  hours: Map<number, number>;
  date: number;
  /** unfinished sagas on the date that this caller does not own */
  inFlight: string[];
}

// The private truth the counters are compared with (recovery, backfill, drift report).
@Injectable()
export class ReconciliationRepository {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly registrations: RegistrationRepository,
    private readonly sagas: SagaRepository,
  ) {}

  /**
   * Held spots per counter and the sagas in flight, read in ONE consistent snapshot, so a saga
   * that finishes between the two reads cannot be missed by both.
   */
  async snapshot(eventDateId: number, ownedSagaIds: string[] = []): Promise<HeldSnapshot> {
    return translatePrivateError(async () => {
      const runner = this.db.createQueryRunner();
      await runner.connect();
      try {
        await runner.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await runner.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
        const held = await this.registrations.heldSpots(runner.manager, eventDateId);
        const unfinished = await this.sagas.unfinishedOfDate(runner.manager, eventDateId);
        await runner.query('COMMIT');
        const snapshot: HeldSnapshot = {
          slots: new Map(),
          hours: new Map(),
          date: 0,
          inFlight: [],
        };
        for (const row of held) {
          snapshot.date += row.spots;
          if (row.eventSlotId === null) continue;
          snapshot.slots.set(
            row.eventSlotId,
            (snapshot.slots.get(row.eventSlotId) ?? 0) + row.spots,
          );
          if (row.eventHourId !== null) {
            snapshot.hours.set(
              row.eventHourId,
              (snapshot.hours.get(row.eventHourId) ?? 0) + row.spots,
            );
          }
        }
        const owned = new Set(ownedSagaIds);
        snapshot.inFlight = unfinished.filter((id) => !owned.has(id));
        return snapshot;
      } finally {
        await runner.release();
      }
    });
  }
}
