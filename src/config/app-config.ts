import { createPublicKey } from 'node:crypto';
import { availableParallelism } from 'node:os';

// The environment, validated once into a typed object. Every variable is documented in .env.example.
export interface DbUrl {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface AppConfig {
  nodeEnv: string;
  port: number;
  publicDb: DbUrl;
  privateDb: DbUrl;
  publicPoolSize: number;
  privatePoolSize: number;
  jwt: {
    algorithm: 'HS256' | 'RS256';
    key: string;
    issuer?: string;
    audience?: string;
  };
  redisUrl?: string;
  sagaGraceSeconds: number;
  /** most requests one group commit of a date takes at once (registration.batch.ts) */
  batchMaxSize: number;
  recoveryIntervalMs: number;
  driftCheckIntervalSeconds: number;
  failpoints: string[];
  notify: {
    webhookUrl?: string;
    webhookSecret?: string;
    retryForSeconds: number;
    /** how often the outbox dispatcher looks for due messages; 0 turns it off */
    pollMs: number;
    /** first retry delay; doubles per attempt */
    backoffMs: number;
  };
  rateLimit: { writesPerMinute: number; readsPerMinute: number };
  corsOrigins: string[];
  /** largest request body accepted, in bytes */
  bodyLimit: number;
  logLevel: string;
  /** json lines for machines (the default), or pretty for a person at a terminal (npm run demo) */
  logFormat: 'json' | 'pretty';
  /** how long a date's in-process availability copy may be served; 0 turns the copy off */
  scheduleCacheMs: number;
  /** worker processes (node:cluster); 1 runs the server in this process */
  workers: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
  }
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

// Secrets the project itself publishes: anyone who read .env.example, the README or the demo
// could sign tokens (or webhook bodies) with them. The length check alone lets them through.
const PUBLISHED_PLACEHOLDERS = /^(change[-_ ]?me|replace[-_ ]?me|your[-_ ]|placeholder|todo\b)/i;

/** The demo's own secret: printed on screen by `npm run demo`, and accepted only in that process. */
export const DEMO_JWT_SECRET = 'demo-only-development-secret-never-use-in-production';
let demoSecretAllowed = false;

/** Called by `npm run demo` only: nothing in the environment can turn this on. */
export function allowDemoSecret(): void {
  demoSecretAllowed = true;
}

function refusePlaceholder(name: string, value: string | undefined): void {
  if (value === undefined) return;
  if (value === DEMO_JWT_SECRET && name === 'JWT_SECRET' && demoSecretAllowed) return;
  if (value === DEMO_JWT_SECRET || PUBLISHED_PLACEHOLDERS.test(value)) {
    throw new ConfigError(
      name,
      `is a published placeholder ("${value.slice(0, 12)}..."); set a random secret, e.g. \`openssl rand -hex 32\``,
    );
  }
}

function logFormat(env: Env): 'json' | 'pretty' {
  const format = text(env, 'LOG_FORMAT') ?? 'json';
  if (format !== 'json' && format !== 'pretty')
    throw new ConfigError('LOG_FORMAT', `must be json or pretty, got "${format}"`);
  if (format === 'pretty') {
    try {
      require.resolve('pino-pretty');
    } catch {
      // a development dependency: an image built with npm ci --omit=dev has none
      throw new ConfigError('LOG_FORMAT', 'pretty needs the pino-pretty development dependency');
    }
  }
  return format;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return value;
}

export function parseDbUrl(name: string, raw: string): DbUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL like mysql://user:pass@host:3306/database');
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new ConfigError(name, 'must use the mysql:// scheme');
  }
  if (!url.hostname) throw new ConfigError(name, 'has no host');
  if (!/^[A-Za-z0-9_]+$/.test(database)) {
    throw new ConfigError(name, 'must name a database made of letters, digits and _');
  }
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username) || 'root',
    password: decodeURIComponent(url.password),
    database,
  };
}

function url(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL, got "${raw}"`);
  }
  return raw;
}

/** A size like 16kb, 1mb or 2048 (bytes), at most `max` bytes. */
function bytes(env: Env, name: string, fallback: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const match = /^(\d{1,9})\s*(b|kb|mb)?$/i.exec(raw);
  const unit = { b: 1, kb: 1024, mb: 1024 * 1024 }[(match?.[2] ?? 'b').toLowerCase() as 'b'];
  const value = match ? Number(match[1]) * unit : NaN;
  if (!(value >= 1 && value <= max)) {
    throw new ConfigError(name, `must be a size such as 16kb, at most ${max} bytes, got "${raw}"`);
  }
  return value;
}

// WEB_CONCURRENCY is the name Heroku, Render and others set to the cores a dyno has; "auto" is
// one worker per core the process may use, 1 (the default) a single process without cluster.
function workerCount(env: Env): number {
  const raw = text(env, 'WEB_CONCURRENCY') ?? '1';
  if (raw.toLowerCase() === 'auto') return availableParallelism();
  return integer(env, 'WEB_CONCURRENCY', 1, 1, 64);
}

function jwtConfig(env: Env): AppConfig['jwt'] {
  const secret = text(env, 'JWT_SECRET');
  const publicKey = text(env, 'JWT_PUBLIC_KEY')?.replace(/\\n/g, '\n');
  if (publicKey === undefined && secret === undefined) {
    throw new ConfigError('JWT_SECRET', 'is required unless JWT_PUBLIC_KEY is set');
  }
  if (publicKey !== undefined) {
    try {
      createPublicKey(publicKey);
    } catch {
      throw new ConfigError('JWT_PUBLIC_KEY', 'must be a PEM public key');
    }
    return {
      algorithm: 'RS256',
      key: publicKey,
      issuer: text(env, 'JWT_ISSUER'),
      audience: text(env, 'JWT_AUDIENCE'),
    };
  }
  if (secret !== undefined && secret.length < 16) {
    throw new ConfigError('JWT_SECRET', 'must be at least 16 characters');
  }
  refusePlaceholder('JWT_SECRET', secret);
  return {
    algorithm: 'HS256',
    key: secret as string,
    issuer: text(env, 'JWT_ISSUER'),
    audience: text(env, 'JWT_AUDIENCE'),
  };
}

export interface LoadOptions {
  /**
   * `boot` (the server, the token command): the token settings are checked now.
   * `on-use` (an ops command that never handles a token): they are checked the first time
   * something reads `config.jwt`, with the same error, so a missing JWT_SECRET does not stop it.
   */
  jwt?: 'boot' | 'on-use';
}

export function loadConfig(env: Env = process.env, options: LoadOptions = {}): AppConfig {
  const nodeEnv = text(env, 'NODE_ENV') ?? 'development';
  const jwt = options.jwt === 'on-use' ? undefined : jwtConfig(env);
  refusePlaceholder('NOTIFY_WEBHOOK_SECRET', text(env, 'NOTIFY_WEBHOOK_SECRET'));
  const failpoints = (text(env, 'FAILPOINTS') ?? '').split(',').filter((f) => f !== '');
  if (failpoints.length > 0 && nodeEnv === 'production') {
    throw new ConfigError('FAILPOINTS', 'is for tests only and refused when NODE_ENV=production');
  }
  const workers = workerCount(env);
  if (workers > 1 && url(env, 'REDIS_URL') === undefined) {
    // without Redis, workers would not share rate limits, date changes or real-time rooms
    throw new ConfigError('WEB_CONCURRENCY', 'above 1 needs REDIS_URL');
  }
  const config: Omit<AppConfig, 'jwt'> = {
    nodeEnv,
    port: integer(env, 'PORT', 3000, 0, 65535),
    publicDb: parseDbUrl('PUBLIC_DB_URL', text(env, 'PUBLIC_DB_URL') ?? DEFAULT_PUBLIC_DB_URL),
    privateDb: parseDbUrl('PRIVATE_DB_URL', text(env, 'PRIVATE_DB_URL') ?? DEFAULT_PRIVATE_DB_URL),
    publicPoolSize: integer(env, 'PUBLIC_DB_POOL_SIZE', 10, 1, 500),
    privatePoolSize: integer(env, 'PRIVATE_DB_POOL_SIZE', 10, 1, 500),
    redisUrl: url(env, 'REDIS_URL'),
    sagaGraceSeconds: integer(env, 'SAGA_GRACE_SECONDS', 30, 1, 3600),
    batchMaxSize: integer(env, 'BATCH_MAX_SIZE', 200, 1, 1000),
    recoveryIntervalMs: integer(env, 'RECOVERY_INTERVAL_MS', 2000, 0, 3_600_000),
    driftCheckIntervalSeconds: integer(env, 'DRIFT_CHECK_INTERVAL_SECONDS', 0, 0, 86_400),
    failpoints,
    notify: {
      webhookUrl: url(env, 'NOTIFY_WEBHOOK_URL'),
      webhookSecret: text(env, 'NOTIFY_WEBHOOK_SECRET'),
      retryForSeconds: integer(env, 'NOTIFY_RETRY_FOR_SECONDS', 3600, 1, 7 * 86_400),
      pollMs: integer(env, 'NOTIFY_POLL_MS', 500, 0, 3_600_000),
      backoffMs: integer(env, 'NOTIFY_BACKOFF_MS', 1000, 1, 3_600_000),
    },
    rateLimit: {
      writesPerMinute: integer(env, 'RATE_LIMIT_WRITES_PER_MINUTE', 120, 1, 1_000_000),
      readsPerMinute: integer(env, 'RATE_LIMIT_READS_PER_MINUTE', 600, 1, 1_000_000),
    },
    corsOrigins: (text(env, 'CORS_ORIGINS') ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    bodyLimit: bytes(env, 'BODY_LIMIT', 16 * 1024, 1024 * 1024),
    logLevel: text(env, 'LOG_LEVEL') ?? 'info',
    logFormat: logFormat(env),
    scheduleCacheMs: integer(env, 'SCHEDULE_CACHE_MS', 1000, 0, 60_000),
    workers,
  };
  if (jwt !== undefined) return { ...config, jwt };
  let checked: AppConfig['jwt'] | undefined;
  return Object.defineProperty(config, 'jwt', {
    enumerable: true,
    get: () => (checked ??= jwtConfig(env)),
  }) as AppConfig;
}

/** Boot-time validation: a bad variable stops the process with its name, not a stack trace. */
export function loadConfigOrExit(env: Env = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

export const APP_CONFIG = Symbol('APP_CONFIG');
export const DEFAULT_PUBLIC_DB_URL = 'mysql://root@127.0.0.1:3306/freshtrak_public';
export const DEFAULT_PRIVATE_DB_URL = 'mysql://root@127.0.0.1:3306/freshtrak_private';
