import { parse as parseQuery } from 'node:querystring';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

/**
 * Fastify hooks: the URL is checked as the request arrives (also for routes that do not exist),
 * the body once it is parsed, both before any guard or route runs.
 */
export function registerHostileInputChecks(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done) => {
    try {
      checkUrl(request.raw.url ?? '/');
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  fastify.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done) => {
    try {
      // the parsers leave the body undefined when the request had none
      if (request.body !== undefined && WRITE_METHODS.has(request.method)) checkBody(request.body);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

class UnreadableBodyError extends DomainError {
  constructor(problem: string) {
    super('VALIDATION_FAILED', 'The request body could not be read', {
      details: [{ field: 'body', problems: [problem] }],
    });
  }
}

/** Bytes that are not valid UTF-8 are refused, not silently repaired. */
export function utf8(body: Buffer): string {
  try {
    return fatalUtf8.decode(body);
  } catch {
    throw new UnreadableBodyError('is not valid UTF-8');
  }
}

const INFLATE: Record<string, ((body: Buffer, limit: number) => Buffer) | undefined> = {
  identity: (body) => body,
  gzip: (body, limit) => gunzipSync(body, { maxOutputLength: limit }),
  deflate: (body, limit) => inflateSync(body, { maxOutputLength: limit }),
  br: (body, limit) => brotliDecompressSync(body, { maxOutputLength: limit }),
};

/**
 * The body's text: compressed bodies (gzip, deflate, br) are inflated to at most `limit` bytes,
 * so a bomb small on the wire is a 413 like any other large body; a charset other than UTF-8, an
 * unknown encoding or corrupt compressed data is a 400.
 */
export function bodyText(request: FastifyRequest, body: Buffer, limit: number): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '');
  if (charset && !/^utf-?8$/i.test(charset[1])) {
    throw new UnreadableBodyError(`has charset ${charset[1]}; only utf-8 is read`);
  }
  const encoding = String(request.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const inflate = INFLATE[encoding];
  if (!inflate) throw new UnreadableBodyError(`has an unsupported content encoding`);
  let raw: Buffer;
  try {
    raw = inflate(body, limit);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DomainError('PAYLOAD_TOO_LARGE', 'The request body is too large');
    }
    throw new UnreadableBodyError(`is not valid ${encoding} data`);
  }
  return utf8(raw);
}

/**
 * The only bodies this API reads: JSON and (as Express's extended: false did) flat urlencoded
 * forms, each at most `limit` bytes. Any other media type is a 415 before a route runs.
 */
export function registerBodyParsers(fastify: FastifyInstance, limit: number): void {
  // the body's text (bodyText: size, encoding, charset, UTF-8) read as `parse` says; whatever
  // else `parse` throws means the body is `invalid`
  const parser =
    (parse: (text: string) => unknown, invalid: string) =>
    (
      request: FastifyRequest,
      body: Buffer,
      done: (error: Error | null, body?: unknown) => void,
    ) => {
      try {
        done(null, parse(bodyText(request, body, limit)));
      } catch (error) {
        done(error instanceof DomainError ? error : new UnreadableBodyError(invalid));
      }
    };
  const options = { parseAs: 'buffer', bodyLimit: limit } as const;
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    options,
    // an empty body reads as {} (as body-parser did), so DTO validation names what is missing
    parser(
      (text) => (text.trim() === '' ? {} : (JSON.parse(text) as unknown)),
      'is not valid JSON',
    ),
  );
  fastify.addContentTypeParser(
    'application/x-www-form-urlencoded',
    options,
    parser((text) => ({ ...parseQuery(text) }), 'is not a valid form'),
  );
}
