import { applyDecorators } from '@nestjs/common';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsOptional,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';
import { isPrivateId, MAX_PUBLIC_ID } from './ids';

/** A private id: digits as a string, or a safe positive integer. */
export function IsPrivateId(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPrivateId',
      validator: {
        validate: (value: unknown) => isPrivateId(value),
        defaultMessage: () =>
          '$property must be an id: a positive integer, as a string of digits or a number',
      },
    },
    options,
  );
}

/** A public id: a positive integer that fits INT UNSIGNED. */
export function IsPublicId(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPublicId',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'number' &&
          Number.isInteger(value) &&
          value > 0 &&
          value <= MAX_PUBLIC_ID,
        defaultMessage: () => '$property must be a positive integer id',
      },
    },
    options,
  );
}

/** Largest party a registration may name (a household has at most 20 members). */
export const MAX_PARTY = 20;

/** An optional list of 1..MAX_PARTY distinct member ids. */
export function IsOptionalParty(): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    IsArray(),
    ArrayMinSize(1),
    ArrayMaxSize(MAX_PARTY),
    ArrayUnique((id: unknown) => String(id)),
    IsPrivateId({ each: true }),
  );
}
