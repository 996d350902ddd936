import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../../../database/database.constants';
import { IdempotencyRepository } from '../../../idempotency/idempotency.repository';
import { NotificationOutboxRepository } from '../../../notifications/notification-outbox.repository';
import { RegistrationBatchRepository } from '../../registration-batch.repository';
import { RegistrationHistoryRepository } from '../../registration-history.repository';
import type { Registration } from '../../registration.types';
import { SagaRepository } from '../saga.repository';
import type { NewSaga } from '../saga.types';
import { batchTransaction } from './batch.transaction';
import type { CancelIntent } from './batch.types';

// The private step of a cancel batch (registration.batch.ts): ONE transaction for the whole
// batch over the table repositories, with one `cancel` saga row per registration. The public
// release of the sum follows; SagaRepository.finishReleases closes the sagas after it.
@Injectable()
export class CancelSteps {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly rows: RegistrationBatchRepository,
    private readonly sagas: SagaRepository,
    private readonly keys: IdempotencyRepository,
    private readonly history: RegistrationHistoryRepository,
    private readonly outbox: NotificationOutboxRepository,
  ) {}

  /**
   * Step 1, one transaction: each registration (as the caller read it, same version, no saga
   * holding it) becomes cancelled with its history and notification, and gets a saga row:
   * `releasing` when it held a seat still to give back, else `done`. Those changed meanwhile
   * (or held by a saga) come back as undefined: busy, the caller reads and retries.
   */
  async begin(
    items: { registration: Registration; actor: string; idempotencyScope?: string }[],
    leaseSeconds: number,
  ): Promise<(CancelIntent | undefined)[]> {
    return batchTransaction(this.db, async (m) => {
      const { versions, now } = await this.rows.lockCancellable(
        m,
        items.map((x) => x.registration.id),
      );
      const seen = new Set<string>();
      const claimed = items.filter((x) => {
        const ok =
          versions.get(x.registration.id) === x.registration.version &&
          !seen.has(x.registration.id);
        seen.add(x.registration.id);
        return ok;
      });
      if (claimed.length === 0) return items.map(() => undefined);
      await this.rows.cancelLocked(
        m,
        claimed.map((x) => x.registration.id),
        now,
      );
      const sagas = claimed.map((x) => cancelSaga(x, leaseSeconds));
      const sagaIds = await this.sagas.insertMany(m, sagas);
      // each request's Idempotency-Key points at its own saga
      await this.keys.attachSagas(
        m,
        sagas.map((s, i) => [s.idempotencyScope, sagaIds[i]]),
      );
      await this.history.recordMany(
        m,
        claimed.map(({ registration: r, actor }) => ({
          registrationId: r.id,
          eventDateId: r.eventDateId,
          actor,
          action: 'cancelled',
          fromStatus: r.status,
          toStatus: 'cancelled',
          spots: r.spots,
          eventSlotId: r.eventSlotId,
        })),
        now,
      );
      await this.outbox.enqueueMany(
        m,
        claimed.map((x) => x.registration.id),
        'cancelled',
      );
      // a registration named twice in one batch is cancelled once; the other request is busy,
      // reads it again and answers with the cancelled registration
      const bySaga = new Map(claimed.map((x, i) => [x, sagaIds[i]]));
      return items.map((x) => {
        const sagaId = bySaga.get(x);
        if (!sagaId) return undefined;
        const owes = x.registration.status === 'confirmed';
        return { registration: x.registration, sagaId, owes, at: now };
      });
    });
  }
}

function cancelSaga(
  x: { registration: Registration; actor: string; idempotencyScope?: string },
  leaseSeconds: number,
): NewSaga {
  const r = x.registration;
  const owes = r.status === 'confirmed';
  return {
    registrationId: r.id,
    eventDateId: r.eventDateId,
    kind: 'cancel',
    state: owes ? 'releasing' : 'done',
    take: null,
    release: owes
      ? {
          eventDateId: r.eventDateId,
          eventHourId: r.eventHourId,
          eventSlotId: r.eventSlotId,
          spots: r.spots,
        }
      : null,
    plan: {
      eventHourId: r.eventHourId,
      eventSlotId: r.eventSlotId,
      partySize: r.partySize,
      spots: r.spots,
    },
    actor: x.actor,
    idempotencyScope: x.idempotencyScope,
    leaseSeconds,
  };
}
