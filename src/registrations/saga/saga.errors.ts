import { DomainError } from '../../common/domain-error';

/** A new registration found no room and could not (or would not) wait. */
export function registrationFull(): DomainError {
  return new DomainError(
    'CAPACITY_FULL',
    'No room left, and the waitlist was declined, is disabled or is full',
  );
}

/** A change (bigger party, another slot) found no room; the registration is as it was. */
export function changeFull(): DomainError {
  return new DomainError('CAPACITY_FULL', 'No room for this change; nothing was changed');
}

/**
 * Recovery took the saga over while this request was still running (it outlived its lease):
 * the outcome is recovery's to decide, so the request must not claim one. Answered as a
 * retryable 503; a retry with the same Idempotency-Key gets the finished saga's outcome.
 */
export class SagaTakenOverError extends DomainError {
  constructor() {
    super(
      'SERVICE_UNAVAILABLE',
      'This request took too long and is being finished; retry shortly',
      undefined,
      2,
    );
  }
}
