import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsOptional,
  Matches,
  Validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { PageQuery } from '../common/paging';
import { isValidIsoDate } from '../common/time';

@ValidatorConstraint({ name: 'isoDate' })
export class IsoDateConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && isValidIsoDate(value);
  }

  defaultMessage(): string {
    return '$property must be a real date written YYYY-MM-DD';
  }
}

export class EventsQuery extends PageQuery {
  @ApiPropertyOptional({
    description: 'First day (YYYY-MM-DD); defaults to today (UTC)',
    example: '2026-12-01',
  })
  @IsOptional()
  @Validate(IsoDateConstraint)
  from?: string;

  @ApiPropertyOptional({
    description: 'Last day (YYYY-MM-DD); defaults to from + 60 days',
    example: '2026-12-31',
  })
  @IsOptional()
  @Validate(IsoDateConstraint)
  to?: string;

  @ApiPropertyOptional({ description: 'Five-digit ZIP code of the event', example: '43215' })
  @IsOptional()
  @Matches(/^\d{5}$/, { message: 'zip must be five digits' })
  zip?: string;
}

export class WaitlistView {
  @ApiProperty({ example: true })
  enabled!: boolean;

  @ApiProperty({ description: 'Waitlisted registrations for the whole date', example: 5 })
  length!: number;
}

export class SlotView {
  @ApiProperty({ example: 345 })
  id!: number;

  @ApiProperty({ example: '09:00', nullable: true, type: String })
  startTime!: string | null;

  @ApiProperty({ example: '09:15', nullable: true, type: String })
  endTime!: string | null;

  @ApiProperty({ example: 6 })
  capacity!: number;

  @ApiProperty({ example: 6 })
  reserved!: number;

  @ApiProperty({ example: 0 })
  available!: number;

  @ApiProperty({ example: 2 })
  waitlistLength!: number;
}

export class HourView {
  @ApiProperty({ example: 40 })
  id!: number;

  @ApiProperty({ example: '09:00', nullable: true, type: String })
  startTime!: string | null;

  @ApiProperty({ example: '10:00', nullable: true, type: String })
  endTime!: string | null;

  @ApiProperty({ example: 25 })
  capacity!: number;

  @ApiProperty({ example: 25 })
  reserved!: number;

  @ApiProperty({ example: 0 })
  available!: number;

  @ApiProperty({ type: [SlotView] })
  slots!: SlotView[];
}

/** The body of GET /api/v1/event-dates/:id, also sent by the real-time module. */
export class EventDateView {
  @ApiProperty({ example: 12 })
  id!: number;

  @ApiProperty({ example: 3 })
  eventId!: number;

  @ApiProperty({ example: 'Community Pantry' })
  eventName!: string;

  @ApiProperty({ example: '2026-12-01' })
  date!: string;

  @ApiProperty({ example: '09:00', nullable: true, type: String })
  startTime!: string | null;

  @ApiProperty({ example: '12:00', nullable: true, type: String })
  endTime!: string | null;

  @ApiProperty({ example: 100 })
  capacity!: number;

  @ApiProperty({ example: 97 })
  reserved!: number;

  @ApiProperty({ example: 3 })
  available!: number;

  @ApiProperty({ description: 'True only when the date can be booked now', example: true })
  acceptReservations!: boolean;

  @ApiProperty({ enum: ['slot', 'date'], example: 'slot' })
  bookingLevel!: 'slot' | 'date';

  @ApiProperty({ enum: ['household', 'person'], example: 'household' })
  capacityUnit!: 'household' | 'person';

  @ApiProperty({ type: WaitlistView })
  waitlist!: WaitlistView;

  @ApiProperty({ type: [HourView], description: 'Empty for a date booked at date level' })
  hours!: HourView[];
}

export class ListedDateView {
  @ApiProperty({ example: 12 })
  id!: number;

  @ApiProperty({ example: '2026-12-01' })
  date!: string;

  @ApiProperty({ example: '09:00', nullable: true, type: String })
  startTime!: string | null;

  @ApiProperty({ example: '12:00', nullable: true, type: String })
  endTime!: string | null;

  @ApiProperty({ example: 100 })
  capacity!: number;

  @ApiProperty({ example: 97 })
  reserved!: number;

  @ApiProperty({ example: 3 })
  available!: number;

  @ApiProperty({ enum: ['slot', 'date'], example: 'slot' })
  bookingLevel!: 'slot' | 'date';
}

export class EventView {
  @ApiProperty({ example: 3 })
  id!: number;

  @ApiProperty({ example: 'Community Pantry' })
  name!: string;

  @ApiProperty({ example: '43215' })
  zip!: string;

  @ApiProperty({
    type: [ListedDateView],
    description: 'Dates that can be booked now, in date order',
  })
  dates!: ListedDateView[];
}

export class EventPage {
  @ApiProperty({ type: [EventView] })
  items!: EventView[];

  @ApiProperty({ example: 1 })
  total!: number;

  @ApiProperty({ example: 1 })
  page!: number;

  @ApiProperty({ example: 50 })
  pageSize!: number;
}
