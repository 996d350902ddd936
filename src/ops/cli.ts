import 'reflect-metadata';
import 'dotenv/config';
import { Module, OnApplicationBootstrap } from '@nestjs/common';
import type { Command as Commander, CommanderError } from 'commander';
import { CommandFactory, InjectCommander } from 'nest-commander';
import { BackfillCommand } from './backfill.command';
import { CliFailure, EXIT, oneLine } from './cli-failure';
import { TokenCommand } from './token.command';

// The ops commands: `npm run cli -- <command> [options]`, `npm run cli -- --help`.
//
// To add a command: write a `@Command` class in src/ops/ (see token.command.ts) and add it to
// `providers` below. The root context holds only the commands, so `--help` and option errors
// need no database and no configuration. A command validates the configuration it needs when
// it runs (commandConfig), and one that needs the databases builds its own Nest context then
// (see backfill.command.ts).
//
// Exit codes: 0 all well, 1 drift found (backfill dry run), 2 anything else (an unknown
// command or option, a bad value, an unknown event date, a missing variable, an unreachable
// database). Failures are one line on stderr, never a stack trace.

/** commander has printed the problem (or the help asked for, its only exit code 0) */
function commanderExit(error: CommanderError): never {
  process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.failure);
}

// nest-commander sets the exit override on the root command only, after the subcommands are
// made, so `backfill --aply` would exit 1 (the code for drift) from commander itself.
class CommanderSetup implements OnApplicationBootstrap {
  constructor(@InjectCommander() private readonly commander: Commander) {}

  onApplicationBootstrap(): void {
    this.commander.name('npm run cli --');
    for (const command of this.commander.commands) command.exitOverride(commanderExit);
  }
}

@Module({ providers: [CommanderSetup, TokenCommand, BackfillCommand] })
export class CliModule {}

function fail(error: unknown): never {
  if (error instanceof CliFailure) {
    console.error(error.message);
    process.exit(error.exitCode);
  }
  console.error(oneLine(error));
  process.exit(EXIT.failure);
}

async function main(): Promise<void> {
  await CommandFactory.run(CliModule, {
    logger: false,
    cliName: 'npm run cli --',
    errorHandler: (error) => commanderExit(error as CommanderError),
    serviceErrorHandler: fail,
  });
}

if (require.main === module) {
  main().catch(fail);
}
