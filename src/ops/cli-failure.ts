import { DynamicModule, Module } from '@nestjs/common';
import { createConnection } from 'mysql2/promise';
import {
  APP_CONFIG,
  AppConfig,
  ConfigError,
  DbUrl,
  loadConfig,
  LoadOptions,
} from '../config/app-config';

// What the ops commands share: how they fail (one line on stderr and an exit code cron can
// act on, never a stack trace) and how they get their configuration.

/** Exit codes of every command: 0 all well, 1 drift found (dry run), 2 anything else. */
export const EXIT = { ok: 0, drift: 1, failure: 2 } as const;

/** A failure the user can act on: its message is the one line printed. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

/** The configuration a command needs, validated now; a bad variable is a CliFailure naming it. */
export function commandConfig(options: LoadOptions): AppConfig {
  try {
    return loadConfig(process.env, options);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliFailure(error.message);
    throw error;
  }
}

/** The configuration as a global provider, for a command that builds its own Nest context. */
@Module({})
export class CommandConfigModule {
  static with(config: AppConfig): DynamicModule {
    return {
      module: CommandConfigModule,
      global: true,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}

/**
 * Connects to each database once before a command builds on it, so an unreachable one is
 * reported by name ("the public database freshtrak_public at 127.0.0.1:3306: ...").
 */
export async function mustReachDatabases(config: AppConfig): Promise<void> {
  const targets: [string, DbUrl][] = [
    ['public', config.publicDb],
    ['private', config.privateDb],
  ];
  for (const [name, db] of targets) {
    try {
      const connection = await createConnection({
        host: db.host,
        port: db.port,
        user: db.user,
        password: db.password,
        database: db.database,
        connectTimeout: 10_000,
      });
      await connection.end();
    } catch (error) {
      throw new CliFailure(
        `cannot reach the ${name} database ${db.database} at ${db.host}:${db.port}: ${oneLine(error)}`,
      );
    }
  }
}

export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // a refused connection on Node 20 can be an AggregateError with no message, only a code
  const code = (error as { code?: unknown } | null)?.code;
  return text.replace(/\s+/g, ' ').trim() || (typeof code === 'string' ? code : 'unknown error');
}
