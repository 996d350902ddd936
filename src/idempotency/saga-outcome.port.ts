import type { DomainError } from '../common/domain-error';

/**
 * The answer a finished saga gave (or would have given): a success body with its status, or the
 * domain error it ended in. Used for the retry of a request that was cut off mid-saga.
 */
export type SagaOutcome =
  { kind: 'answer'; status: number; body: unknown } | { kind: 'error'; error: DomainError };

/**
 * What idempotency needs to know about sagas, declared here and bound by the module that owns
 * them (registrations), so this module depends on no feature.
 */
export interface SagaOutcomeResolver {
  /** undefined while the saga is unfinished, or when its outcome is not an answer to replay */
  outcomeOf(sagaId: string): Promise<SagaOutcome | undefined>;
}

export const SAGA_OUTCOME_RESOLVER = Symbol('SagaOutcomeResolver');
