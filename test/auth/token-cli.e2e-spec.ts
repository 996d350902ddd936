import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JwtPayload, verify } from 'jsonwebtoken';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'ops', 'cli.js');
const SECRET = 'cli-test-secret-of-16-chars';

function run(args: string[], env: Record<string, string> = { JWT_SECRET: SECRET }) {
  // from a scratch directory, so a developer's .env plays no part
  return spawnSync(process.execPath, [cli, ...args], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(root, 'node_modules'), ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('npm run cli -- token', () => {
  beforeAll(() => {
    if (!existsSync(cli))
      execFileSync('npx', ['nest', 'build'], { cwd: root, stdio: 'ignore', timeout: 240_000 });
  }, 300_000);

  it('prints only a token signed with JWT_SECRET, with the sub, roles and lifetime asked for', () => {
    const result = run([
      'token',
      '--sub',
      'alice',
      '--roles',
      'staff,admin',
      '--expires-in',
      '120',
    ]);
    expect(result.status).toBe(0);
    const claims = verify(result.stdout.trim(), SECRET, { algorithms: ['HS256'] }) as JwtPayload;
    expect(claims).toMatchObject({ sub: 'alice', roles: ['staff', 'admin'] });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(120);
  });

  it('defaults to a participant token valid for 12 hours', () => {
    const result = run(['token', '--sub', 'bob']);
    const claims = verify(result.stdout.trim(), SECRET, { algorithms: ['HS256'] }) as JwtPayload;
    expect(claims.roles).toEqual(['participant']);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(12 * 3600);
  });

  it('carries the configured issuer and audience', () => {
    const result = run(['token', '--sub', 'carol'], {
      JWT_SECRET: SECRET,
      JWT_ISSUER: 'https://id',
      JWT_AUDIENCE: 'ft',
    });
    const claims = verify(result.stdout.trim(), SECRET, {
      algorithms: ['HS256'],
      issuer: 'https://id',
      audience: 'ft',
    });
    expect(claims).toMatchObject({ sub: 'carol' });
  });

  it.each([
    ['without --sub', ['token'], '--sub'],
    ['with an unknown role', ['token', '--sub', 'a', '--roles', 'root'], '--roles'],
    [
      'with a lifetime that is not a number',
      ['token', '--sub', 'a', '--expires-in', 'soon'],
      '--expires-in',
    ],
  ])('fails %s, saying why', (_label, args, mention) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(mention);
  });

  it('fails naming JWT_SECRET when it is not configured', () => {
    const result = run(['token', '--sub', 'a'], {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('JWT_SECRET');
  });
});
