import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '../common/domain-error';

// Refuses, before any route runs, input that no DTO should have to think about: text that is
// not valid UTF-8 or holds NUL or lone surrogates, bodies that are not JSON objects, nesting
// deeper than any DTO, oversized arrays, integers JSON cannot carry exactly, and keys that
// reach object prototypes through class-transformer. Each is a 400 VALIDATION_FAILED.
export const MAX_BODY_DEPTH = 16;
export const MAX_ARRAY_LENGTH = 1000;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// a UTF-16 surrogate without its partner: not text, and cannot be stored as UTF-8
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export class HostileInputError extends DomainError {
  constructor(where: string, problem: string) {
    super('VALIDATION_FAILED', 'The request is not valid', {
      details: [{ field: where, problems: [problem] }],
    });
  }
}

export function isBadText(value: string): boolean {
  return value.includes('\0') || LONE_SURROGATE.test(value);
}

/** Decodes one URL component; undefined when it is not valid percent-encoded UTF-8. */
function decodeComponent(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export function checkUrl(url: string): void {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const decodedPath = decodeComponent(path);
  if (decodedPath === undefined || isBadText(decodedPath)) {
    throw new HostileInputError('path', 'is not valid UTF-8 text');
  }
  if (queryAt === -1) return;
  for (const pair of url.slice(queryAt + 1).split('&')) {
    const decoded = decodeComponent(pair);
    if (decoded === undefined || isBadText(decoded)) {
      throw new HostileInputError('query', 'is not valid UTF-8 text');
    }
  }
}

/** Walks a parsed body iteratively (a recursive walk is what deep nesting attacks). */
export function checkBody(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HostileInputError('body', 'must be a JSON object');
  }
  const stack: { value: unknown; path: string; depth: number }[] = [
    { value: body, path: 'body', depth: 0 },
  ];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as { value: unknown; path: string; depth: number };
    if (typeof value === 'string') {
      if (isBadText(value)) throw new HostileInputError(path, 'holds characters that are not text');
      continue;
    }
    if (typeof value === 'number') {
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new HostileInputError(path, 'is a number too large to be exact; send ids as strings');
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_BODY_DEPTH) throw new HostileInputError(path, 'is nested too deeply');
    if (Array.isArray(value)) {
      if (value.length > MAX_ARRAY_LENGTH) {
        throw new HostileInputError(path, `has more than ${MAX_ARRAY_LENGTH} items`);
      }
      value.forEach((item, i) =>
        stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }),
      );
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      if (FORBIDDEN_KEYS.has(key) || isBadText(key)) {
        throw new HostileInputError(path, `has a forbidden field name`);
      }
      stack.push({ value: item, path: `${path}.${key}`, depth: depth + 1 });
    }
  }
}

/** Express middleware; mounted after the body parsers so it sees the parsed body. */
export function hostileInputMiddleware(req: Request, _res: Response, next: NextFunction): void {
  try {
    checkUrl(req.originalUrl);
    // body-parser leaves req.body undefined when there was no body it could parse
    if (req.body !== undefined && WRITE_METHODS.has(req.method)) checkBody(req.body);
    next();
  } catch (error) {
    next(error);
  }
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** body-parser `verify` hook: a body that is not valid UTF-8 is refused, not silently repaired. */
export function verifyUtf8Body(_req: unknown, _res: unknown, body: Buffer): void {
  try {
    fatalUtf8.decode(body);
  } catch {
    throw Object.assign(new Error('The request body is not valid UTF-8'), {
      status: 400,
      type: 'entity.verify.failed',
    });
  }
}
