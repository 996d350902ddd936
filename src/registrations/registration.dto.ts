import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

import { IsBoolean, IsIn, IsOptional, ValidateBy } from 'class-validator';
import { DomainError } from '../common/domain-error';
import { PageQuery } from '../common/paging';
import { IsOptionalParty, IsPublicId, MAX_PARTY } from '../common/validators';
import type { ErrorSpec } from '../openapi/api-errors';
import type { ChangeCommand } from './registration.service';
import type { RegistrationStatus } from './registration.types';

export { MAX_PARTY };
export const MAX_SPECIAL_REQUIREMENTS = 500;
// C0 and C1 control characters (tab and newline included): the text is one line for a list
// and a CSV cell, and nothing in it may steer a terminal or a log reader
const isControl = (c: string) => {
  const n = c.codePointAt(0) ?? 0;
  return n < 0x20 || (n >= 0x7f && n <= 0x9f);
};

/**
 * Optional free text for the pantry: a string of at most 500 characters (code points, as the
 * utf8mb4 column counts them) without control characters, or null. The message never quotes it.
 */
function IsSpecialRequirements(): PropertyDecorator {
  return ValidateBy({
    name: 'isSpecialRequirements',
    validator: {
      validate: (value: unknown) =>
        value === undefined ||
        value === null ||
        (typeof value === 'string' &&
          [...value].length <= MAX_SPECIAL_REQUIREMENTS &&
          ![...value].some(isControl)),
      defaultMessage: () =>
        `$property must be null or a string of at most ${MAX_SPECIAL_REQUIREMENTS} characters without control characters`,
    },
  });
}

const SPECIAL_REQUIREMENTS_DOC = {
  example: 'wheelchair access',
  nullable: true,
  type: String,
  maxLength: MAX_SPECIAL_REQUIREMENTS,
  description:
    'Free text for the pantry, at most 500 characters, no control characters (400 otherwise). ' +
    'Surrounding spaces are trimmed; null, "" or only spaces clear it. Never logged, never in ' +
    'notifications or real-time events; history records that it changed, not the text.',
} as const;

/** What is stored: trimmed, and null for nothing; undefined (not given) stays undefined. */
export function normalizeSpecialRequirements(
  value: string | null | undefined,
): string | null | undefined {
  if (value === undefined) return undefined;
  const text = value?.trim() ?? '';
  return text === '' ? null : text;
}
/** The statuses a list filters by and a response shows (a failed registration is never listed). */
export const LISTED_STATUSES: RegistrationStatus[] = [
  'pending',
  'confirmed',
  'waitlisted',
  'cancelled',
  'checked_in',
];

export class CreateRegistrationDto {
  @ApiProperty({ example: 12, description: 'event_date_id from the public schedule' })
  @IsPublicId()
  eventDateId!: number;

  @ApiPropertyOptional({
    example: 345,
    description:
      'Required when the date is booked by slot (422 SLOT_REQUIRED), refused otherwise (422 SLOT_NOT_ALLOWED)',
  })
  @IsOptional()
  @IsPublicId()
  eventSlotId?: number;

  @ApiPropertyOptional({
    example: ['7', '8'],
    description: 'Members of your household; defaults to all active members',
    type: [String],
  })
  @IsOptionalParty()
  memberIds?: (string | number)[];

  @ApiPropertyOptional({ example: true, default: true, description: 'Join the waitlist when full' })
  @IsOptional()
  @IsBoolean()
  joinWaitlist?: boolean;

  @ApiPropertyOptional(SPECIAL_REQUIREMENTS_DOC)
  @IsSpecialRequirements()
  specialRequirements?: string | null;
}

export class UpdateRegistrationDto {
  @ApiPropertyOptional({
    example: ['7'],
    type: [String],
    description: 'The new party (all or nothing)',
  })
  @IsOptionalParty()
  memberIds?: (string | number)[];

  @ApiPropertyOptional({ example: 346, description: 'Another slot of the same date' })
  @IsOptional()
  @IsPublicId()
  eventSlotId?: number;

  @ApiPropertyOptional({
    ...SPECIAL_REQUIREMENTS_DOC,
    description:
      SPECIAL_REQUIREMENTS_DOC.description +
      ' Alone, it changes no counter; with memberIds or eventSlotId it is applied with that change, all or nothing.',
  })
  @IsSpecialRequirements()
  specialRequirements?: string | null;
}

export class ListRegistrationsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: LISTED_STATUSES })
  @IsOptional()
  @IsIn(LISTED_STATUSES)
  status?: RegistrationStatus;
}

export class RegistrationResponse {
  @ApiProperty({ example: '901' }) id!: string;
  @ApiProperty({ example: '55' }) householdId!: string;
  @ApiProperty({ example: 3 }) eventId!: number;
  @ApiProperty({ example: 12 }) eventDateId!: number;
  @ApiProperty({ example: 40, nullable: true, type: Number }) eventHourId!: number | null;
  @ApiProperty({ example: 345, nullable: true, type: Number }) eventSlotId!: number | null;
  @ApiProperty({ example: 'confirmed', enum: LISTED_STATUSES }) status!: RegistrationStatus;
  @ApiProperty({
    example: null,
    nullable: true,
    type: Number,
    description: '1-based, waitlisted only',
  })
  waitlistPosition!: number | null;
  @ApiProperty({ example: ['7', '8'], type: [String] }) memberIds!: string[];
  @ApiProperty({ example: 2 }) partySize!: number;
  @ApiProperty({
    example: 1,
    description: '1 per household, or partySize when the date counts people',
  })
  spots!: number;
  @ApiProperty({ example: '2026-11-22T09:00:00.000Z' }) createdAt!: string;
  @ApiProperty({ example: '2026-11-22T09:00:00.000Z' }) updatedAt!: string;
  @ApiProperty({ example: null, nullable: true, type: String }) cancelledAt!: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) checkedInAt!: string | null;
  @ApiProperty({
    example: 'wheelchair access',
    nullable: true,
    type: String,
    description: 'Free text for the pantry; null when none',
  })
  specialRequirements!: string | null;
}

export class RegistrationPage {
  @ApiProperty({ type: [RegistrationResponse] }) items!: RegistrationResponse[];
  @ApiProperty({ example: 1 }) total!: number;
  @ApiProperty({ example: 1 }) page!: number;
  @ApiProperty({ example: 50 }) pageSize!: number;
}

/** A PATCH body as the service's command; at least one thing to change. */
export function changeCommandOf(body: UpdateRegistrationDto): ChangeCommand {
  if (
    body.memberIds === undefined &&
    body.eventSlotId === undefined &&
    body.specialRequirements === undefined
  ) {
    throw new DomainError(
      'VALIDATION_FAILED',
      'Give memberIds, eventSlotId, specialRequirements or several',
    );
  }
  return {
    memberIds: toIds(body.memberIds),
    eventSlotId: body.eventSlotId,
    specialRequirements: normalizeSpecialRequirements(body.specialRequirements),
  };
}

export function toIds(ids: (string | number)[] | undefined): string[] | undefined {
  return ids?.map(String);
}

/** What a change to a registration answers while another holds it (participant or staff). */
export const HELD_ERRORS: ErrorSpec = {
  SERVICE_UNAVAILABLE:
    'another operation holds the registration, or one cut off by a crash awaits recovery (Retry-After)',
};

/** What booking answers, for a participant and for staff on a household's behalf. */
export const CREATE_ERRORS: ErrorSpec = {
  VALIDATION_FAILED: 'memberIds left out, and the household has no active members',
  MEMBER_NOT_IN_HOUSEHOLD: 'a member of another household',
  MEMBER_NOT_FOUND: 'a member removed from the household',
  EVENT_DATE_NOT_FOUND: 'unknown, inactive or unpublished date (or event)',
  EVENT_SLOT_NOT_FOUND: 'the slot is not on this date, or is inactive',
  ALREADY_REGISTERED: 'the household already has an active registration for this date',
  CAPACITY_FULL: 'no room, and the waitlist was declined, is disabled or is full',
  RESERVATIONS_CLOSED: 'the date does not take reservations, is past or its booking has ended',
  SLOT_REQUIRED: 'the date is booked by slot: give eventSlotId',
  SLOT_NOT_ALLOWED: 'the date has no slots: leave eventSlotId out',
  SCHEDULE_UNAVAILABLE: 'the public schedule database is unreachable; nothing was kept',
};
