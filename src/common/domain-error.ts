// One error type per domain failure, each with a stable code. Services throw these;
// the global filter maps them to HTTP in one exhaustive switch.
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'MEMBER_NOT_IN_HOUSEHOLD',
  'NOT_FOUND',
  'EVENT_DATE_NOT_FOUND',
  'EVENT_SLOT_NOT_FOUND',
  'REGISTRATION_NOT_FOUND',
  'HOUSEHOLD_NOT_FOUND',
  'MEMBER_NOT_FOUND',
  'ALREADY_REGISTERED',
  'CAPACITY_FULL',
  'INVALID_STATE',
  'HOUSEHOLD_EXISTS',
  'IDEMPOTENCY_KEY_IN_USE',
  'PAYLOAD_TOO_LARGE',
  'RESERVATIONS_CLOSED',
  'SLOT_REQUIRED',
  'SLOT_NOT_ALLOWED',
  'IDEMPOTENCY_KEY_REUSED',
  'RATE_LIMITED',
  'SCHEDULE_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
    case 'MEMBER_NOT_IN_HOUSEHOLD':
      return 403;
    case 'NOT_FOUND':
    case 'EVENT_DATE_NOT_FOUND':
    case 'EVENT_SLOT_NOT_FOUND':
    case 'REGISTRATION_NOT_FOUND':
    case 'HOUSEHOLD_NOT_FOUND':
    case 'MEMBER_NOT_FOUND':
      return 404;
    case 'ALREADY_REGISTERED':
    case 'CAPACITY_FULL':
    case 'INVALID_STATE':
    case 'HOUSEHOLD_EXISTS':
    case 'IDEMPOTENCY_KEY_IN_USE':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'RESERVATIONS_CLOSED':
    case 'SLOT_REQUIRED':
    case 'SLOT_NOT_ALLOWED':
    case 'IDEMPOTENCY_KEY_REUSED':
      return 422;
    case 'RATE_LIMITED':
      return 429;
    case 'SCHEDULE_UNAVAILABLE':
    case 'SERVICE_UNAVAILABLE':
      return 503;
  }
}

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode | 'INTERNAL_ERROR';
  message: string;
  details?: unknown;
  requestId?: string;
}

export function errorBody(error: DomainError): ErrorBody {
  const body: ErrorBody = {
    statusCode: httpStatusOf(error.code),
    code: error.code,
    message: error.message,
  };
  if (error.details !== undefined) body.details = error.details;
  return body;
}
