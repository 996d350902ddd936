import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsObject,
  IsOptional,
  ValidateBy,
  ValidateNested,
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

// Every list in a DTO is declared with one of the two decorators below, so each item's kind is
// checked: ValidateNested alone lets a nested array through (class-validator walks into it and
// finds nothing to check), and the item reaches the service as something it is not.
// src/dto-validation.spec.ts holds every DTO to this.

/** A list of min..max objects, each validated as `type` (never an array or a scalar). */
export function IsObjectList(type: () => new () => object, min: number, max: number) {
  return applyDecorators(
    IsArray(),
    ArrayMinSize(min),
    ArrayMaxSize(max),
    IsObject({ each: true, message: 'each item of $property must be an object' }),
    ValidateNested({ each: true }),
    Type(type),
  );
}

/** A list of min..max distinct private ids (an id twice, as a string and a number, is twice). */
export function IsPrivateIdList(min: number, max: number): PropertyDecorator {
  return applyDecorators(
    IsArray(),
    ArrayMinSize(min),
    ArrayMaxSize(max),
    ArrayUnique((id: unknown) => String(id)),
    IsPrivateId({ each: true }),
  );
}

/** An optional list of 1..MAX_PARTY distinct member ids. */
export function IsOptionalParty(): PropertyDecorator {
  return applyDecorators(IsOptional(), IsPrivateIdList(1, MAX_PARTY));
}
