import { DomainError } from './domain-error';

// Private ids are BIGINT, exchanged as strings of digits; requests may send numbers too.
export const PRIVATE_ID_PATTERN = /^[1-9]\d{0,18}$/;
const MAX_BIGINT = 9223372036854775807n;

export function isPrivateId(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0;
  return typeof value === 'string' && PRIVATE_ID_PATTERN.test(value) && BigInt(value) <= MAX_BIGINT;
}

// A path id that is not an id at all cannot name anything: the caller gets the not-found code.
export function pathIdOrNotFound(value: string, notFound: () => DomainError): string {
  if (!isPrivateId(value)) throw notFound();
  return value;
}

export const MAX_PUBLIC_ID = 4294967295;

export function publicIdOrNotFound(value: string, notFound: () => DomainError): number {
  if (!/^[1-9]\d{0,9}$/.test(value) || Number(value) > MAX_PUBLIC_ID) throw notFound();
  return Number(value);
}
