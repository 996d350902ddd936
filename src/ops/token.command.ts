import { Command, CommandRunner, Option } from 'nest-commander';
import type { Role } from '../auth/auth-user';
import { mintDevToken } from '../auth/token';
import { CliFailure, commandConfig } from './cli-failure';

const ROLES: readonly Role[] = ['participant', 'staff', 'admin'];

export interface TokenOptions {
  sub: string;
  roles?: Role[];
  expiresIn?: number;
}

export function parseRoles(value: string): Role[] {
  const roles = value
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const unknown = roles.filter((r) => !ROLES.includes(r as Role));
  if (roles.length === 0 || unknown.length > 0) {
    throw new CliFailure(
      `--roles must be a comma-separated list of ${ROLES.join(', ')}; got "${value}"`,
    );
  }
  return roles as Role[];
}

export function parseExpiresIn(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 366 * 86_400) {
    throw new CliFailure(
      `--expires-in must be a number of seconds between 1 and ${366 * 86_400}; got "${value}"`,
    );
  }
  return Number(value);
}

// Prints a development token signed with JWT_SECRET (HS256). Only the token goes to stdout, so
// `TOKEN=$(npm run -s cli -- token --sub alice)` works. Needs JWT_SECRET, and no database.
@Command({ name: 'token', description: 'print a development JWT signed with JWT_SECRET' })
export class TokenCommand extends CommandRunner {
  run(_params: string[], options: TokenOptions): Promise<void> {
    const config = commandConfig({ jwt: 'boot' });
    const token = mintDevToken(
      config,
      options.sub,
      options.roles ?? ['participant'],
      options.expiresIn,
    );
    process.stdout.write(`${token}\n`);
    return Promise.resolve();
  }

  @Option({ flags: '--sub <id>', description: 'the account id (JWT sub)', required: true })
  parseSub(value: string): string {
    if (value.length === 0 || value.length > 191)
      throw new CliFailure('--sub must be 1 to 191 characters');
    return value;
  }

  @Option({
    flags: '--roles <roles>',
    description: 'comma-separated: participant, staff, admin (default participant)',
  })
  parseRoles(value: string): Role[] {
    return parseRoles(value);
  }

  @Option({ flags: '--expires-in <seconds>', description: 'lifetime in seconds (default 43200)' })
  parseExpiresIn(value: string): number {
    return parseExpiresIn(value);
  }
}
