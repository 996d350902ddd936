import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { PageQuery } from '../common/paging';
import { IsOptionalParty, IsPublicId, MAX_PARTY } from '../common/validators';
import type { ErrorSpec } from '../openapi/api-errors';
import type { RegistrationStatus } from './registration.types';

export { MAX_PARTY };
const STATUSES: RegistrationStatus[] = [
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
}

export class ListRegistrationsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: RegistrationStatus;
}

export class RegistrationResponse {
  @ApiProperty({ example: '901' }) id!: string;
  @ApiProperty({ example: '55' }) householdId!: string;
  @ApiProperty({ example: 3 }) eventId!: number;
  @ApiProperty({ example: 12 }) eventDateId!: number;
  @ApiProperty({ example: 40, nullable: true, type: Number }) eventHourId!: number | null;
  @ApiProperty({ example: 345, nullable: true, type: Number }) eventSlotId!: number | null;
  @ApiProperty({ example: 'confirmed', enum: STATUSES }) status!: RegistrationStatus;
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
}

export class RegistrationPage {
  @ApiProperty({ type: [RegistrationResponse] }) items!: RegistrationResponse[];
  @ApiProperty({ example: 1 }) total!: number;
  @ApiProperty({ example: 1 }) page!: number;
  @ApiProperty({ example: 50 }) pageSize!: number;
}

export function toIds(ids: (string | number)[] | undefined): string[] | undefined {
  return ids?.map(String);
}

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
