import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../../database/database.constants';
import { privateTransaction, Queryable } from '../../database/sql';
import type { RegistrationStatus } from '../registration.types';
import { SagaStepsRepository, StepSaga } from './saga-steps.repository';
import type { Claim, HistoryEntry, OutboxMessage } from './saga.types';

type BeginInput = Parameters<SagaStepsRepository['beginOnExisting']>[1];
type ApplyInput = Parameters<SagaStepsRepository['applyWithoutTake']>[1];

/** Step 3 of one change of a batch: the seat it was granted, or not. */
export interface ChangeSettle {
  saga: StepSaga;
  granted: boolean;
  fromStatus: RegistrationStatus;
  history: Pick<HistoryEntry, 'action' | 'toStatus'>;
  outbox: OutboxMessage;
}

// The private side of a batch's changes (change.batch.ts): each method is ONE private
// transaction for all the changes of a batch, running for each the very step the one-request
// saga runs (SagaStepsRepository, same SQL). Every change keeps its own saga row and its own
// fence: one that finds its registration changed or held is busy (lost, in step 3) alone, and
// leaves nothing written, while the others commit.
@Injectable()
export class ChangeStepsRepository {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly steps: SagaStepsRepository,
  ) {}

  /** Changes that need no new seat: applied, their freed spots recorded as release legs. */
  applyWithoutTake(inputs: ApplyInput[]): Promise<Claim[]> {
    return this.each(
      inputs.map((input) => ({ registrationId: input.registration.id, input })),
      (m, x) => this.steps.applyWithoutTake(m, x.input),
    );
  }

  /** Step 1 of changes with a take leg: each registration claimed by its own `taking` saga. */
  begin(inputs: BeginInput[]): Promise<Claim[]> {
    return this.each(
      inputs.map((input) => ({ registrationId: input.registrationId, input })),
      (m, x) => this.steps.beginOnExisting(m, x.input),
    );
  }

  /** Step 3: granted -> confirmed at the new target; not granted -> released unchanged (full). */
  async settle(items: ChangeSettle[]): Promise<('completed' | 'full' | 'lost')[]> {
    const outcomes = await this.each(
      items.map((x) => ({ registrationId: x.saga.registrationId, x })),
      (m, { x }): Promise<{ kind: 'completed' | 'full' | 'lost' }> =>
        x.granted
          ? this.steps.completeTakeIn(m, x.saga, x.fromStatus, x.history, x.outbox)
          : this.steps.completeNoRoomIn(m, x.saga),
    );
    return outcomes.map((o) => o.kind);
  }

  /** Step 1 undone (nothing is taken any more): one small transaction each, as compensation. */
  async abandon(sagas: StepSaga[], outcome: string): Promise<void> {
    for (const saga of sagas) await this.steps.abandon(saga, outcome);
  }

  // One transaction for all, visiting the registrations in id order (the order every batch
  // locks them in, so two batches do not deadlock on them); the results in the items' order.
  private each<T extends { registrationId: string }, R>(
    items: T[],
    step: (m: Queryable, item: T) => Promise<R>,
  ): Promise<R[]> {
    const order = items.map((_, k) => k).sort((a, b) => byId(items[a], items[b]));
    return privateTransaction(this.db, async (m) => {
      const results: R[] = [];
      for (const k of order) results[k] = await step(m, items[k]);
      return results;
    });
  }
}

// ids are BIGINT strings: the shorter is the smaller
function byId(a: { registrationId: string }, b: { registrationId: string }): number {
  const x = a.registrationId;
  const y = b.registrationId;
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}
