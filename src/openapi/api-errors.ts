import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import type { ResponseObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { ERROR_CODES, ErrorBody, ErrorCode, httpStatusOf } from '../common/domain-error';

// The error envelope of every failure (src/common/http-error.filter.ts), as an OpenAPI schema,
// and one decorator that documents a route's error codes with it: one response per status,
// each with the schema and one example body per code.

export class ErrorResponse {
  @ApiProperty({ example: 409, description: 'The HTTP status, repeated in the body' })
  statusCode!: number;

  @ApiProperty({
    enum: [...ERROR_CODES, 'INTERNAL_ERROR'],
    example: 'CAPACITY_FULL',
    description: 'Stable: branch on this, never on the message',
  })
  code!: ErrorCode | 'INTERNAL_ERROR';

  @ApiProperty({
    example: 'No room left, and the waitlist was declined, is disabled or is full',
    description: 'For people; its wording may change',
  })
  message!: string;

  @ApiPropertyOptional({
    description:
      'Present when there is more to say: for VALIDATION_FAILED from the body or query, the fields ' +
      'and their problems; for MEMBER_NOT_IN_HOUSEHOLD at check-in, {memberIds}.',
    oneOf: [
      {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            field: { type: 'string', example: 'eventDateId' },
            problems: { type: 'array', items: { type: 'string' } },
          },
        },
      },
      { type: 'object', additionalProperties: true },
    ],
  })
  details?: unknown;

  @ApiPropertyOptional({
    description: 'Only on a 500 INTERNAL_ERROR: quote it when reporting the failure',
    example: '3f1c9a52-6d0e-4d8b-9a8e-2b7f0c1d4e5a',
  })
  requestId?: string;
}

// The messages the service really sends (grep the code for them), so an example is what a
// client will see; the compiler keeps one per code.
const MESSAGES: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'The request is not valid',
  UNAUTHENTICATED: 'Authentication is required',
  FORBIDDEN: 'This route is for staff',
  MEMBER_NOT_IN_HOUSEHOLD: 'Every member must belong to the household',
  NOT_FOUND: 'No such route',
  EVENT_DATE_NOT_FOUND: 'No such event date',
  EVENT_SLOT_NOT_FOUND: 'No such slot on this date',
  REGISTRATION_NOT_FOUND: 'No such registration',
  HOUSEHOLD_NOT_FOUND: 'This account has no household yet',
  MEMBER_NOT_FOUND: 'No such member in your household',
  ALREADY_REGISTERED: 'This household already has an active registration for this event date',
  CAPACITY_FULL: 'No room left, and the waitlist was declined, is disabled or is full',
  INVALID_STATE: 'A checked-in registration cannot be cancelled',
  HOUSEHOLD_EXISTS: 'This account already has a household',
  IDEMPOTENCY_KEY_IN_USE: 'A request with this Idempotency-Key is still running',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  RESERVATIONS_CLOSED: 'This date does not take registrations',
  SLOT_REQUIRED: 'This date is booked by time slot',
  SLOT_NOT_ALLOWED: 'This date is booked as a whole; do not name a slot',
  IDEMPOTENCY_KEY_REUSED: 'This Idempotency-Key was used with a different request',
  RATE_LIMITED: 'Too many requests; try again shortly',
  SCHEDULE_UNAVAILABLE: 'The schedule is unavailable; try again shortly',
  SERVICE_UNAVAILABLE: 'The service is unavailable; try again shortly',
};

const VALIDATION_DETAILS = [{ field: 'eventDateId', problems: ['eventDateId must be an integer'] }];

// the filter sets Retry-After whenever the error carries retryAfterSeconds
const RETRIES: ReadonlySet<ErrorCode> = new Set([
  'RATE_LIMITED',
  'IDEMPOTENCY_KEY_IN_USE',
  'SERVICE_UNAVAILABLE',
]);
const RETRY_AFTER = {
  'Retry-After': {
    description:
      'Seconds to wait before trying again: always with RATE_LIMITED and IDEMPOTENCY_KEY_IN_USE; ' +
      'with SERVICE_UNAVAILABLE when another operation holds the registration or a request cut off ' +
      'by a crash is being finished',
    schema: { type: 'integer', example: 30 },
  },
};

export function exampleErrorBody(code: ErrorCode): ErrorBody {
  const body: ErrorBody = { statusCode: httpStatusOf(code), code, message: MESSAGES[code] };
  if (code === 'VALIDATION_FAILED') body.details = VALIDATION_DETAILS;
  return body;
}

/** A code, or codes with the route's own words for when each happens. */
export type ErrorSpec = ErrorCode | Partial<Record<ErrorCode, string>>;

/** What any route with a JSON body can answer before it runs. */
export const BODY_ERRORS: ErrorSpec = {
  VALIDATION_FAILED: 'the body is not valid (unknown fields are refused)',
  PAYLOAD_TOO_LARGE: 'the body is larger than BODY_LIMIT',
};

/** What any route with query parameters can answer before it runs. */
export const QUERY_ERRORS: ErrorSpec = {
  VALIDATION_FAILED: 'a query parameter is not valid (unknown ones are refused)',
};

function groupByStatus(specs: ErrorSpec[]): Map<number, Map<ErrorCode, string | undefined>> {
  const byStatus = new Map<number, Map<ErrorCode, string | undefined>>();
  const add = (code: ErrorCode, when?: string) => {
    const status = httpStatusOf(code);
    const codes = byStatus.get(status) ?? new Map<ErrorCode, string | undefined>();
    const said = [codes.get(code), when].filter((w) => w !== undefined);
    codes.set(code, said.length > 0 ? said.join('; or ') : undefined);
    byStatus.set(status, codes);
  };
  for (const spec of specs) {
    if (typeof spec === 'string') add(spec);
    else for (const [code, when] of Object.entries(spec)) add(code as ErrorCode, when);
  }
  return byStatus;
}

function describe(codes: Map<ErrorCode, string | undefined>) {
  const entries = [...codes];
  return {
    description: entries.map(([code, when]) => (when ? `${code}: ${when}` : code)).join('; '),
    // keyed by the summary: a code that two decorators of one route both document keeps both
    examples: Object.fromEntries(
      entries.map(([code, when]) => {
        const summary = when ? `${code}: ${when}` : code;
        return [summary, { summary, value: exampleErrorBody(code) }];
      }),
    ),
    ...(entries.some(([code]) => RETRIES.has(code)) ? { headers: RETRY_AFTER } : {}),
  };
}

/**
 * Documents the error responses a route (or every route of a controller) can give:
 * `@ApiErrors('REGISTRATION_NOT_FOUND', { INVALID_STATE: 'the registration is checked in' })`.
 * Several of these on one route merge per status (Swagger joins descriptions and examples),
 * so shared decorators such as Authenticated() and Idempotent() can bring their own codes.
 */
export function ApiErrors(...specs: ErrorSpec[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...[...groupByStatus(specs)].map(([status, codes]) =>
      ApiResponse({ status, type: ErrorResponse, ...describe(codes) }),
    ),
  );
}

/** The same response as ApiErrors gives, for adding to a generated document directly. */
export function errorResponseObject(...specs: ErrorSpec[]): Record<string, ResponseObject> {
  return Object.fromEntries(
    [...groupByStatus(specs)].map(([status, codes]) => {
      const { description, examples, ...rest } = describe(codes);
      const response: ResponseObject = {
        description,
        ...rest,
        content: {
          'application/json': { schema: { $ref: getSchemaPath(ErrorResponse) }, examples },
        },
      };
      return [String(status), response];
    }),
  );
}
