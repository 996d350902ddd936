import { generateKeyPairSync } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  allowDemoSecret,
  ConfigError,
  DEMO_JWT_SECRET,
  loadConfig,
} from '../../src/config/app-config';

const SECRET = 'a-secret-of-at-least-16-chars';
const PEM = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString()
  .replace(/\n/g, '\\n'); // as it would sit in a one-line environment variable

function problemWith(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('configuration (loadConfig)', () => {
  it('has working defaults with only JWT_SECRET set', () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    expect(config).toMatchObject({
      port: 3000,
      publicDb: {
        host: '127.0.0.1',
        port: 3306,
        user: 'root',
        password: '',
        database: 'freshtrak_public',
      },
      privateDb: { database: 'freshtrak_private' },
      jwt: { algorithm: 'HS256', key: SECRET, issuer: undefined, audience: undefined },
      redisUrl: undefined,
      failpoints: [],
    });
  });

  it('reads a database URL with credentials and port', () => {
    const config = loadConfig({
      JWT_SECRET: SECRET,
      PUBLIC_DB_URL: 'mysql://reader:p%40ss@db.internal:3307/schedule',
    });
    expect(config.publicDb).toEqual({
      host: 'db.internal',
      port: 3307,
      user: 'reader',
      password: 'p@ss',
      database: 'schedule',
    });
  });

  it('uses RS256 with JWT_PUBLIC_KEY, which then makes JWT_SECRET optional', () => {
    const config = loadConfig({
      JWT_PUBLIC_KEY: PEM,
      JWT_ISSUER: 'https://id',
      JWT_AUDIENCE: 'ft',
    });
    expect(config.jwt).toMatchObject({ algorithm: 'RS256', issuer: 'https://id', audience: 'ft' });
    expect(config.jwt.key).toContain('\n');
  });

  const cases: [string, Record<string, string>, string][] = [
    ['JWT_SECRET missing', {}, 'JWT_SECRET'],
    ['JWT_SECRET blank', { JWT_SECRET: '   ' }, 'JWT_SECRET'],
    ['JWT_SECRET too short', { JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [
      'JWT_SECRET a change-me placeholder',
      { JWT_SECRET: 'CHANGE_ME_to_something_long' },
      'JWT_SECRET',
    ],
    ['JWT_SECRET the demo secret outside the demo', { JWT_SECRET: DEMO_JWT_SECRET }, 'JWT_SECRET'],
    [
      'NOTIFY_WEBHOOK_SECRET a placeholder',
      { NOTIFY_WEBHOOK_SECRET: 'replace-me-with-the-hmac-key' },
      'NOTIFY_WEBHOOK_SECRET',
    ],
    ['JWT_PUBLIC_KEY not a PEM key', { JWT_PUBLIC_KEY: 'ssh-rsa AAAA' }, 'JWT_PUBLIC_KEY'],
    ['PORT not a number', { PORT: 'eighty' }, 'PORT'],
    ['PORT negative', { PORT: '-1' }, 'PORT'],
    ['PORT out of range', { PORT: '70000' }, 'PORT'],
    ['PORT with a unit', { PORT: '3000ms' }, 'PORT'],
    ['PUBLIC_DB_URL not a URL', { PUBLIC_DB_URL: 'localhost:3306/db' }, 'PUBLIC_DB_URL'],
    [
      'PUBLIC_DB_URL wrong scheme',
      { PUBLIC_DB_URL: 'postgres://root@127.0.0.1/db' },
      'PUBLIC_DB_URL',
    ],
    [
      'PUBLIC_DB_URL without a database',
      { PUBLIC_DB_URL: 'mysql://root@127.0.0.1:3306/' },
      'PUBLIC_DB_URL',
    ],
    [
      'PRIVATE_DB_URL with a bad database name',
      { PRIVATE_DB_URL: 'mysql://root@127.0.0.1/a-b;drop' },
      'PRIVATE_DB_URL',
    ],
    ['PRIVATE_DB_URL not a URL', { PRIVATE_DB_URL: 'nope' }, 'PRIVATE_DB_URL'],
    ['REDIS_URL not a URL', { REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [
      'NOTIFY_WEBHOOK_URL not a URL',
      { NOTIFY_WEBHOOK_URL: 'example.org/hook' },
      'NOTIFY_WEBHOOK_URL',
    ],
    [
      'FAILPOINTS in production',
      { NODE_ENV: 'production', FAILPOINTS: 'after-take:crash' },
      'FAILPOINTS',
    ],
    ['PUBLIC_DB_POOL_SIZE zero', { PUBLIC_DB_POOL_SIZE: '0' }, 'PUBLIC_DB_POOL_SIZE'],
    ['PRIVATE_DB_POOL_SIZE too large', { PRIVATE_DB_POOL_SIZE: '100000' }, 'PRIVATE_DB_POOL_SIZE'],
    ['SAGA_GRACE_SECONDS a fraction', { SAGA_GRACE_SECONDS: '1.5' }, 'SAGA_GRACE_SECONDS'],
    ['BATCH_MAX_SIZE zero', { BATCH_MAX_SIZE: '0' }, 'BATCH_MAX_SIZE'],
    [
      'RECOVERY_INTERVAL_MS not a number',
      { RECOVERY_INTERVAL_MS: 'often' },
      'RECOVERY_INTERVAL_MS',
    ],
    [
      'DRIFT_CHECK_INTERVAL_SECONDS negative',
      { DRIFT_CHECK_INTERVAL_SECONDS: '-5' },
      'DRIFT_CHECK_INTERVAL_SECONDS',
    ],
    [
      'NOTIFY_RETRY_FOR_SECONDS zero',
      { NOTIFY_RETRY_FOR_SECONDS: '0' },
      'NOTIFY_RETRY_FOR_SECONDS',
    ],
    ['NOTIFY_POLL_MS not a number', { NOTIFY_POLL_MS: 'fast' }, 'NOTIFY_POLL_MS'],
    ['NOTIFY_BACKOFF_MS zero', { NOTIFY_BACKOFF_MS: '0' }, 'NOTIFY_BACKOFF_MS'],
    [
      'RATE_LIMIT_WRITES_PER_MINUTE zero',
      { RATE_LIMIT_WRITES_PER_MINUTE: '0' },
      'RATE_LIMIT_WRITES_PER_MINUTE',
    ],
    [
      'RATE_LIMIT_READS_PER_MINUTE text',
      { RATE_LIMIT_READS_PER_MINUTE: 'lots' },
      'RATE_LIMIT_READS_PER_MINUTE',
    ],
    ['LOG_FORMAT unknown', { LOG_FORMAT: 'xml' }, 'LOG_FORMAT'],
    ['SCHEDULE_CACHE_MS above its maximum', { SCHEDULE_CACHE_MS: '600000' }, 'SCHEDULE_CACHE_MS'],
    ['BODY_LIMIT not a size', { BODY_LIMIT: 'big' }, 'BODY_LIMIT'],
    ['BODY_LIMIT above a megabyte', { BODY_LIMIT: '2mb' }, 'BODY_LIMIT'],
    ['WEB_CONCURRENCY not a number', { WEB_CONCURRENCY: 'many' }, 'WEB_CONCURRENCY'],
    ['WEB_CONCURRENCY above 1 without Redis', { WEB_CONCURRENCY: '2' }, 'WEB_CONCURRENCY'],
  ];

  it.each(cases)('refuses %s, naming the variable', (_label, env, variable) => {
    const withSecret =
      'JWT_SECRET' in env || variable.startsWith('JWT_') ? env : { JWT_SECRET: SECRET, ...env };
    const error = problemWith(withSecret);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  it('checks the token settings on first use for a command that handles no token', () => {
    const config = loadConfig({ PUBLIC_DB_URL: 'mysql://u@db:3307/pub' }, { jwt: 'on-use' });
    expect(config.publicDb).toMatchObject({ host: 'db', port: 3307, database: 'pub' });
    expect(() => config.jwt).toThrow(ConfigError);
    expect(() => config.jwt).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ JWT_SECRET: 'short' }, { jwt: 'on-use' }).jwt).toThrow(/at least 16/);
    expect(loadConfig({ JWT_SECRET: SECRET }, { jwt: 'on-use' }).jwt.key).toBe(SECRET);
    // everything else is still checked at once
    expect(() => loadConfig({ PORT: 'x' }, { jwt: 'on-use' })).toThrow(/PORT/);
  });

  it('refuses the JWT_SECRET that .env.example ships, though it is long enough', () => {
    const error = problemWith({ JWT_SECRET: envExampleValue('JWT_SECRET') });
    expect(error.variable).toBe('JWT_SECRET');
    expect(error.message).toContain('placeholder');
  });

  it('logs JSON lines unless LOG_FORMAT=pretty is asked for', () => {
    expect(loadConfig({ JWT_SECRET: SECRET }).logFormat).toBe('json');
    expect(loadConfig({ JWT_SECRET: SECRET, LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
  });

  it('reads sizes and the copy expiry, with their defaults', () => {
    const base = { JWT_SECRET: SECRET };
    expect(loadConfig(base)).toMatchObject({ bodyLimit: 16 * 1024, scheduleCacheMs: 1000 });
    expect(loadConfig({ ...base, BODY_LIMIT: '64kb' }).bodyLimit).toBe(64 * 1024);
    expect(loadConfig({ ...base, BODY_LIMIT: '2048' }).bodyLimit).toBe(2048);
    expect(loadConfig(base).workers).toBe(1);
    const redis = { ...base, REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(loadConfig({ ...redis, WEB_CONCURRENCY: '3' }).workers).toBe(3);
    expect(loadConfig({ ...redis, WEB_CONCURRENCY: 'auto' }).workers).toBe(availableParallelism());
  });

  it('allows FAILPOINTS outside production', () => {
    expect(
      loadConfig({ JWT_SECRET: SECRET, NODE_ENV: 'test', FAILPOINTS: 'a,b:crash' }).failpoints,
    ).toEqual(['a', 'b:crash']);
  });
});

// declared after the cases that refuse it: allowDemoSecret() cannot be undone in this process
describe('the demo secret', () => {
  it('is accepted once the demo process allows it, and only as JWT_SECRET', () => {
    allowDemoSecret();
    expect(loadConfig({ JWT_SECRET: DEMO_JWT_SECRET }).jwt.key).toBe(DEMO_JWT_SECRET);
    expect(
      problemWith({ JWT_SECRET: SECRET, NOTIFY_WEBHOOK_SECRET: DEMO_JWT_SECRET }).variable,
    ).toBe('NOTIFY_WEBHOOK_SECRET');
  });
});

function envExampleValue(variable: string): string {
  const file = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');
  const line = file.split('\n').find((l) => l.startsWith(`${variable}=`));
  if (line === undefined) throw new Error(`.env.example has no ${variable}`);
  return line.slice(variable.length + 1);
}

describe('.env.example', () => {
  it('documents every variable loadConfig reads, each with a comment', () => {
    const root = join(__dirname, '..', '..');
    const source = readFileSync(join(root, 'src', 'config', 'app-config.ts'), 'utf8');
    const read = new Set([...source.matchAll(/\(env, '([A-Z0-9_]+)'/g)].map((m) => m[1]));
    const lines = readFileSync(join(root, '.env.example'), 'utf8').split('\n');
    expect(read.size).toBeGreaterThan(10);
    for (const variable of read) {
      const at = lines.findIndex((l) => l.startsWith(`${variable}=`));
      expect({ variable, documented: at > 0 && lines[at - 1].startsWith('#') }).toEqual({
        variable,
        documented: true,
      });
    }
  });
});

describe('the built server at boot', () => {
  const root = join(__dirname, '..', '..');
  const main = join(root, 'dist', 'main.js');

  beforeAll(() => {
    // `npm test` builds first (pretest); a lone run of this file builds when dist is missing
    if (!existsSync(main))
      execFileSync('npx', ['nest', 'build'], { cwd: root, stdio: 'ignore', timeout: 240_000 });
  }, 300_000);

  function boot(
    env: Record<string, string>,
  ): Promise<{ code: number | null; stderr: string; ms: number }> {
    return new Promise((resolve) => {
      const started = Date.now();
      // run from a scratch directory so a developer's .env cannot supply the missing variable
      const child = spawn(process.execPath, [main], {
        cwd: tmpdir(),
        env: { PATH: process.env.PATH ?? '', NODE_PATH: join(root, 'node_modules'), ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, ms: Date.now() - started });
      });
    });
  }

  it('exits non-zero within seconds, naming JWT_SECRET, when it is unset', async () => {
    const result = await boot({ PORT: '0' });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.ms).toBeLessThan(10_000);
    expect(result.stderr).toContain('JWT_SECRET');
  });

  it('exits non-zero naming JWT_SECRET when it is the .env.example placeholder', async () => {
    const result = await boot({ PORT: '0', JWT_SECRET: envExampleValue('JWT_SECRET') });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain('JWT_SECRET');
    expect(result.stderr).toContain('placeholder');
  });

  it('exits non-zero naming PORT when it is malformed', async () => {
    const result = await boot({ JWT_SECRET: SECRET, PORT: 'eighty' });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain('PORT');
  });
});
