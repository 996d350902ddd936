import { Injectable } from '@nestjs/common';
import { RegistrationRepository } from '../registrations/registration.repository';
import { toView } from '../registrations/registration.types';

/** What the HTTP answer of a finished saga was (for a retry of a request cut off mid-saga). */
@Injectable()
export class SagaOutcomeReader {
  constructor(private readonly registrations: RegistrationRepository) {}

  async outcomeOf(sagaId: string): Promise<{ status: number; body: unknown } | undefined> {
    const saga = await this.registrations.findSaga(sagaId);
    if (!saga || (saga.state !== 'done' && saga.state !== 'failed')) return undefined;
    if (saga.state === 'failed' && saga.kind === 'register') {
      if (saga.outcome === 'CAPACITY_FULL') {
        return {
          status: 409,
          body: {
            statusCode: 409,
            code: 'CAPACITY_FULL',
            message: 'No room left, and the waitlist was declined, is disabled or is full',
          },
        };
      }
      return undefined;
    }
    if (saga.state === 'failed' && saga.outcome === 'CAPACITY_FULL') {
      return {
        status: 409,
        body: {
          statusCode: 409,
          code: 'CAPACITY_FULL',
          message: 'No room for this change; nothing was changed',
        },
      };
    }
    const registration = await this.registrations.findById(saga.registrationId);
    if (!registration) return undefined;
    return { status: saga.kind === 'register' ? 201 : 200, body: toView(registration) };
  }
}
