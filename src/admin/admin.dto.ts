import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { PageQuery } from '../common/paging';
import { IsOptionalParty, IsPrivateId, IsPrivateIdList, IsPublicId } from '../common/validators';
import {
  CreateRegistrationDto,
  LISTED_STATUSES,
  RegistrationResponse,
} from '../registrations/registration.dto';
import type { CapacityUnit, RegistrationStatus } from '../registrations/registration.types';

export const MAX_BULK = 200;

export class AdminRegistrationsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: LISTED_STATUSES })
  @IsOptional()
  @IsIn(LISTED_STATUSES)
  status?: RegistrationStatus;

  @ApiPropertyOptional({ example: 345, description: 'Only the registrations of this slot' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(4294967295)
  slotId?: number;
}

export class MemberNameView {
  @ApiProperty({ example: '7' }) id!: string;
  @ApiProperty({ example: 'Ana' }) firstName!: string;
  @ApiProperty({ example: 'Sample' }) lastName!: string;
}

export class HouseholdSummary {
  @ApiProperty({ example: '55' }) id!: string;
  @ApiProperty({
    type: [MemberNameView],
    description:
      "The household's active members, plus any removed member still on this registration",
  })
  members!: MemberNameView[];
}

export class AdminRegistrationResponse extends RegistrationResponse {
  @ApiProperty({ type: HouseholdSummary }) household!: HouseholdSummary;
}

export class AdminRegistrationPage {
  @ApiProperty({ type: [AdminRegistrationResponse] }) items!: AdminRegistrationResponse[];
  @ApiProperty({ example: 1 }) total!: number;
  @ApiProperty({ example: 1 }) page!: number;
  @ApiProperty({ example: 50 }) pageSize!: number;
}

export class WaitlistResponse {
  @ApiProperty({
    type: [RegistrationResponse],
    description:
      'Waitlisted registrations by slot start time, then waitlistPosition (the order promotion takes)',
  })
  items!: RegistrationResponse[];
}

export class PromoteResponse {
  @ApiProperty({
    example: ['901', '905'],
    type: [String],
    description: 'The registrations confirmed now',
  })
  promoted!: string[];
}

export class CloseWaitlistResponse {
  @ApiProperty({
    example: ['903', '904'],
    type: [String],
    description: 'The registrations cancelled now; [] when nobody was waiting',
  })
  closed!: string[];
}

export class SettingsBody {
  @ApiPropertyOptional({ example: true, description: 'Whether full targets take a waitlist' })
  @ValidateIf((_o, value) => value !== undefined)
  @IsBoolean()
  waitlistEnabled?: boolean;

  @ApiPropertyOptional({
    example: 20,
    nullable: true,
    type: Number,
    description: 'Most waitlisted registrations on the date; null = no limit',
  })
  @ValidateIf((_o, value) => value !== null)
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  waitlistLimit?: number | null;

  @ApiPropertyOptional({
    enum: ['household', 'person'],
    description: 'What capacity counts; changes only while the date has no active registration',
  })
  @ValidateIf((_o, value) => value !== undefined)
  @IsIn(['household', 'person'])
  capacityUnit?: CapacityUnit;
}

export class SettingsResponse {
  @ApiProperty({ example: 12 }) eventDateId!: number;
  @ApiProperty({ example: true }) waitlistEnabled!: boolean;
  @ApiProperty({ example: null, nullable: true, type: Number }) waitlistLimit!: number | null;
  @ApiProperty({ example: 'household', enum: ['household', 'person'] }) capacityUnit!: CapacityUnit;
}

export class AdminCreateRegistrationDto extends CreateRegistrationDto {
  @ApiProperty({
    example: '55',
    description: 'The household registered (string or number)',
    type: String,
  })
  @IsPrivateId()
  householdId!: string | number;
}

export class BulkRegistrationDto {
  @ApiProperty({ example: 12 })
  @IsPublicId()
  eventDateId!: number;

  @ApiPropertyOptional({ example: 345, description: 'Required when the date is booked by slot' })
  @IsOptional()
  @IsPublicId()
  eventSlotId?: number;

  @ApiProperty({
    example: ['55', '56', '57'],
    type: [String],
    description: `1 to ${MAX_BULK} distinct households`,
  })
  @IsPrivateIdList(1, MAX_BULK)
  householdIds!: (string | number)[];

  @ApiPropertyOptional({
    example: false,
    default: false,
    description:
      'true: registered without the waitlist, and on the first failure every registration made by ' +
      'this request is cancelled (its spots given back) and removed; later households are not tried',
  })
  @IsOptional()
  @IsBoolean()
  allOrNothing?: boolean;
}

export class BulkError {
  @ApiProperty({ example: 'ALREADY_REGISTERED' }) code!: string;
  @ApiProperty({ example: 'This household already has an active registration for this event date' })
  message!: string;
}

export type BulkStatus = 'confirmed' | 'waitlisted' | 'failed';

export class BulkResult {
  @ApiProperty({ example: '55' }) householdId!: string;
  @ApiProperty({ enum: ['confirmed', 'waitlisted', 'failed'] }) status!: BulkStatus;
  @ApiProperty({ type: RegistrationResponse, nullable: true })
  registration!: RegistrationResponse | null;
  @ApiProperty({
    type: BulkError,
    nullable: true,
    description:
      "A failed household's contract error code (HOUSEHOLD_NOT_FOUND, ALREADY_REGISTERED, CAPACITY_FULL, ...). " +
      'With allOrNothing, once one household fails, every other result is failed with code ' +
      'ALL_OR_NOTHING_ABORTED (registered, then undone; or not tried). UNDO_FAILED: the undo of this ' +
      'registration could not finish; it is reported with its current state. INTERNAL_ERROR: unexpected.',
  })
  error!: BulkError | null;
}

export class BulkResponse {
  @ApiProperty({ type: [BulkResult], description: 'One per household, in the order given' })
  results!: BulkResult[];
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export class CheckInDto {
  @ApiPropertyOptional({
    example: ['7', '8'],
    type: [String],
    description:
      'Who came; each must be on the registration (403 MEMBER_NOT_IN_HOUSEHOLD). Default: all on it',
  })
  @IsOptionalParty()
  memberIds?: (string | number)[];

  @ApiPropertyOptional({
    example: '2026-12-01T09:12:00.000Z',
    description:
      "When an offline scanner saw them: an ISO instant with offset, on the event's day (UTC) and not in " +
      'the future (60 s of clock skew allowed), else 400. Default: now, which must also be on that day',
  })
  @IsOptional()
  @Matches(INSTANT, { message: 'checkedInAt must be an ISO 8601 instant with Z or an offset' })
  @IsISO8601({ strict: true })
  checkedInAt?: string;
}

export class HistoryItem {
  @ApiProperty({ example: '2026-11-22T09:00:00.000Z' }) at!: string;
  @ApiProperty({
    example: 'staff-17',
    description:
      'The sub of whoever did it (a staff member for staff acts); "system" for a promotion another ' +
      'registration\'s change caused, "recovery" for what recovery finished after a crash',
  })
  actor!: string;
  @ApiProperty({
    example: 'confirmed',
    description:
      'confirmed, waitlisted, promoted, moved, party_changed, requirements_changed (the special ' +
      'requirements changed; the text is never in history), cancelled, waitlist_closed, checked_in',
  })
  action!: string;
  @ApiProperty({ example: null, nullable: true, type: String }) fromStatus!: string | null;
  @ApiProperty({ example: 'confirmed' }) toStatus!: string;
  @ApiProperty({ example: 1 }) spots!: number;
  @ApiProperty({
    example: null,
    nullable: true,
    type: String,
    description:
      'The registration whose change caused this entry: on a promotion after another household cancelled, ' +
      'moved or shrank its party (actor "system"), that registration\'s id; null otherwise',
  })
  causeRegistrationId!: string | null;
}

export class HistoryResponse {
  @ApiProperty({ type: [HistoryItem], description: 'Oldest first' }) items!: HistoryItem[];
}

export class AgeGroupsView {
  @ApiProperty({ example: 12, description: '0-17 on the event day' }) children!: number;
  @ApiProperty({ example: 30, description: '18-64' }) adults!: number;
  @ApiProperty({ example: 8, description: '65 and over' }) seniors!: number;
}

export class StatsResponse {
  @ApiProperty({ example: 12 }) eventDateId!: number;
  @ApiProperty({ example: 100, description: 'Public date capacity' }) capacity!: number;
  @ApiProperty({ example: 97, description: 'Public date reserved counter' }) reserved!: number;
  @ApiProperty({ example: 80, description: 'Registrations confirmed now' }) confirmed!: number;
  @ApiProperty({ example: 5 }) waitlisted!: number;
  @ApiProperty({
    example: 9,
    description:
      'Registrations cancelled now, however: by the household, by staff, or by closing the waitlist',
  })
  cancelled!: number;
  @ApiProperty({
    example: 3,
    description:
      'Of the cancelled, those cancelled by closing the waitlist (so cancelled - waitlistClosed were cancelled by the household or staff)',
  })
  waitlistClosed!: number;
  @ApiProperty({ example: 17 }) checkedIn!: number;
  @ApiProperty({
    example: 0,
    description: 'Confirmed and never checked in, once the date has passed; 0 until then',
  })
  noShows!: number;
  @ApiProperty({ example: 4, description: 'Promotions from the waitlist (history)' })
  promotions!: number;
  @ApiProperty({
    example: 0.5,
    nullable: true,
    type: Number,
    description:
      'Of the registrations ever waitlisted, the share later confirmed (promoted or moved into a seat), ' +
      '0 to 1; null when none was ever waitlisted',
  })
  waitlistConversion!: number | null;
  @ApiProperty({
    example: 5400,
    nullable: true,
    type: Number,
    description:
      'Median seconds from joining the waitlist to promotion, over promoted registrations; null when none',
  })
  medianWaitSeconds!: number | null;
  @ApiProperty({ example: 48, description: 'Members checked in' }) peopleServed!: number;
  @ApiProperty({ type: AgeGroupsView, description: 'Members checked in, by age on the event day' })
  peopleServedByAge!: AgeGroupsView;
}
