import { DomainError } from '../common/domain-error';

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'POOL_CLOSED',
  'ER_SERVER_SHUTDOWN',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
]);

function codeOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isConnectionError(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && CONNECTION_ERRORS.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /connect|Connection lost|closed state|Pool is closed|Can't add new command/i.test(message);
}

export function isRetryableLockError(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT';
}

export function isDuplicateKey(error: unknown, key?: string): boolean {
  if (codeOf(error) !== 'ER_DUP_ENTRY') return false;
  if (key === undefined) return true;
  const message = (error as { message?: string }).message ?? '';
  return message.includes(key);
}

/** The public (schedule) database is unreachable, or a statement's outcome there is unknown. */
export function scheduleUnavailable(): DomainError {
  return new DomainError('SCHEDULE_UNAVAILABLE', 'The schedule is unavailable; try again shortly', {
    retryAfterSeconds: 5,
  });
}

/** Public database unreachable -> 503 SCHEDULE_UNAVAILABLE; anything else is rethrown. */
export async function translatePublicError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isConnectionError(error)) throw scheduleUnavailable();
    throw error;
  }
}

/** Private database unreachable -> 503 SERVICE_UNAVAILABLE. */
export async function translatePrivateError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isConnectionError(error)) {
      throw new DomainError(
        'SERVICE_UNAVAILABLE',
        'The service is unavailable; try again shortly',
        {
          retryAfterSeconds: 5,
        },
      );
    }
    throw error;
  }
}

/** Retries a deadlock or lock wait timeout with jittered backoff. */
export async function withLockRetry<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryableLockError(error) || attempt >= attempts) throw error;
      const delay = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
