import type { DataSource, EntityManager } from 'typeorm';
import { privateTransaction, Queryable } from '../../../database/sql';
import type { RegistrationBatchRepository } from '../../registration-batch.repository';
import type { SagaRepository } from '../saga.repository';

/**
 * One step of a batch: one private transaction at READ COMMITTED, so a read after a lock sees
 * what the lock's previous holder committed (the queue position after the queue row lock, the
 * waitlist count after the settings lock).
 */
export function batchTransaction<T>(
  db: DataSource,
  work: (m: EntityManager) => Promise<T>,
): Promise<T> {
  return privateTransaction(db, work, 'READ COMMITTED');
}

/**
 * Undoes step 1 of a register or promotion batch whose public step failed before anything was
 * taken, in one transaction: the registrations still held by their own sagas get `undo`
 * (removed, or released) and those sagas fail with `outcome`. The others were taken over by
 * recovery and are left alone.
 */
export async function abandonHeld(
  db: DataSource,
  repos: { rows: RegistrationBatchRepository; sagas: SagaRepository },
  claims: { registrationId: string; sagaId: string }[],
  outcome: string,
  undo: (m: Queryable, registrationIds: string[]) => Promise<void>,
): Promise<void> {
  if (claims.length === 0) return;
  await batchTransaction(db, async (m) => {
    const { held } = await repos.rows.lockHeld(
      m,
      claims.map((c) => [c.registrationId, c.sagaId]),
    );
    if (held.size > 0) await undo(m, [...held]);
    await repos.sagas.finishMany(
      m,
      claims
        .filter((c) => held.has(c.registrationId))
        .map((c) => ({ sagaId: c.sagaId, state: 'failed', outcome })),
    );
  });
}
