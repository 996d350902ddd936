import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsOptional,
  IsString,
  Length,
  Matches,
  Validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { isValidIsoDate } from '../common/time';
import { IsObjectList } from '../common/validators';

export const MAX_MEMBERS = 20;
const EARLIEST_BIRTH_DATE = '1900-01-01';
// no control characters in a person's name: C0/C1 controls (tabs, newlines, NUL, escapes),
// line separators and the bidi overrides that make a name render as something else
const NO_CONTROL_CHARS = /^[^\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]*$/u;

const trim = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' ? value.trim() : value;

// The latest acceptable birth date: today where the calendar is furthest ahead (UTC+14), so a
// baby born today anywhere is accepted and a date after that is not.
export function latestBirthDate(now: Date = new Date()): string {
  return new Date(now.getTime() + 14 * 3600_000).toISOString().slice(0, 10);
}

@ValidatorConstraint({ name: 'birthDate' })
export class BirthDateConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return (
      typeof value === 'string' &&
      isValidIsoDate(value) &&
      value >= EARLIEST_BIRTH_DATE &&
      value <= latestBirthDate()
    );
  }

  defaultMessage(): string {
    return `$property must be a real date written YYYY-MM-DD, from ${EARLIEST_BIRTH_DATE} and not in the future`;
  }
}

@ValidatorConstraint({ name: 'oneHead' })
export class AtMostOneHeadConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (!Array.isArray(value)) return true;
    return (
      value.filter((m) => (m as { isHeadOfHousehold?: unknown })?.isHeadOfHousehold === true)
        .length <= 1
    );
  }

  defaultMessage(): string {
    return '$property may have at most one head of household';
  }
}

export class MemberInput {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Ana' })
  @Transform(trim)
  @IsString()
  @Length(1, 100)
  @Matches(NO_CONTROL_CHARS, { message: '$property must not contain control characters' })
  firstName!: string;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Sample' })
  @Transform(trim)
  @IsString()
  @Length(1, 100)
  @Matches(NO_CONTROL_CHARS, { message: '$property must not contain control characters' })
  lastName!: string;

  @ApiProperty({
    format: 'date',
    example: '1984-03-09',
    description: 'From 1900-01-01, not in the future',
  })
  @IsString()
  @Validate(BirthDateConstraint)
  dateOfBirth!: string;

  @ApiPropertyOptional({ default: false, example: true })
  @IsOptional()
  @IsBoolean()
  isHeadOfHousehold?: boolean;
}

export class CreateHouseholdBody {
  @ApiProperty({
    type: [MemberInput],
    minItems: 1,
    maxItems: MAX_MEMBERS,
    description: 'At most one head of household',
    example: [
      { firstName: 'Ana', lastName: 'Sample', dateOfBirth: '1984-03-09', isHeadOfHousehold: true },
      { firstName: 'Luis', lastName: 'Sample', dateOfBirth: '2015-06-21' },
    ],
  })
  @IsDefined()
  @IsObjectList(() => MemberInput, 1, MAX_MEMBERS)
  @Validate(AtMostOneHeadConstraint)
  members!: MemberInput[];
}

export class UpdateMemberBody {
  @ApiPropertyOptional({ minLength: 1, maxLength: 100, example: 'Ana María' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @Length(1, 100)
  @Matches(NO_CONTROL_CHARS, { message: '$property must not contain control characters' })
  firstName?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 100, example: 'Sample' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @Length(1, 100)
  @Matches(NO_CONTROL_CHARS, { message: '$property must not contain control characters' })
  lastName?: string;

  @ApiPropertyOptional({ format: 'date', example: '1984-03-09' })
  @IsOptional()
  @IsString()
  @Validate(BirthDateConstraint)
  dateOfBirth?: string;

  @ApiPropertyOptional({ example: true })
  @IsOptional()
  @IsBoolean()
  isHeadOfHousehold?: boolean;
}

export class MemberView {
  @ApiProperty({ example: '7', description: 'BIGINT as a string of digits' })
  id!: string;

  @ApiProperty({ example: 'Ana' })
  firstName!: string;

  @ApiProperty({ example: 'Sample' })
  lastName!: string;

  @ApiProperty({ example: '1984-03-09' })
  dateOfBirth!: string;

  @ApiProperty({ example: true })
  isHeadOfHousehold!: boolean;

  @ApiProperty({ example: true, description: 'False once removed; it stays on past registrations' })
  isActive!: boolean;
}

export class HouseholdView {
  @ApiProperty({ example: '55', description: 'BIGINT as a string of digits' })
  id!: string;

  @ApiProperty({ type: [MemberView] })
  members!: MemberView[];
}
