import { Injectable } from '@nestjs/common';
import type { SagaOutcome, SagaOutcomeResolver } from '../../idempotency/saga-outcome.port';
import { RegistrationRepository } from '../registration.repository';
import { toView } from '../registration.types';
import { changeFull, registrationFull } from './saga.errors';
import { SagaRepository } from './saga.repository';

// The HTTP answer of a finished saga, for a retry of a request cut off mid-saga: the same
// errors and views the routes themselves give. Bound to idempotency's SAGA_OUTCOME_RESOLVER.
@Injectable()
export class SagaOutcomes implements SagaOutcomeResolver {
  constructor(
    private readonly sagas: SagaRepository,
    private readonly registrations: RegistrationRepository,
  ) {}

  async outcomeOf(sagaId: string): Promise<SagaOutcome | undefined> {
    const saga = await this.sagas.find(sagaId);
    if (!saga || (saga.state !== 'done' && saga.state !== 'failed')) return undefined;
    if (saga.state === 'failed' && saga.outcome === 'CAPACITY_FULL') {
      return { kind: 'error', error: saga.kind === 'register' ? registrationFull() : changeFull() };
    }
    // a failed register left nothing to show; another failed saga left the registration as it
    // was, which is what the retry reads back
    if (saga.state === 'failed' && saga.kind === 'register') return undefined;
    const registration = await this.registrations.findById(saga.registrationId);
    if (!registration) return undefined;
    return {
      kind: 'answer',
      status: saga.kind === 'register' ? 201 : 200,
      body: toView(registration),
    };
  }
}
