import 'reflect-metadata';
import 'dotenv/config';
import { Module } from '@nestjs/common';
import { CommandFactory } from 'nest-commander';
import { loadConfigOrExit } from '../config/app-config';
import { AppConfigModule } from '../config/config.module';
import { CommonModule } from '../common/common.module';
import { DatabaseModule } from '../database/database.module';
import { MetricsModule } from '../metrics/metrics.module';
import { BackfillCommand } from './backfill.command';
import { ReconciliationModule } from '../registrations/saga/reconciliation/reconciliation.module';
import { TokenCommand } from './token.command';

// The ops commands: `npm run cli -- <command> [options]`.
//
// To add a command: write a `@Command` class in src/ops/ (see token.command.ts) and add it to
// `providers` below. A command that needs the databases or a feature's services adds the
// modules it uses (DatabaseModule, ScheduleModule, ...) to DATABASE_IMPORTS. Only commands that
// need the databases connect to them: `token` works with no database at all.
const DATABASE_COMMANDS = new Set(['backfill']);
const DATABASE_IMPORTS = [CommonModule, MetricsModule, DatabaseModule, ReconciliationModule];

const needsDatabases = process.argv.slice(2).some((arg) => DATABASE_COMMANDS.has(arg));

@Module({
  imports: [AppConfigModule, ...(needsDatabases ? DATABASE_IMPORTS : [])],
  providers: [TokenCommand, ...(needsDatabases ? [BackfillCommand] : [])],
})
export class CliModule {}

async function main(): Promise<void> {
  // the same boot-time validation as the server: a bad variable is named, not a stack trace
  loadConfigOrExit();
  await CommandFactory.run(CliModule, {
    logger: ['error', 'warn'],
    cliName: 'npm run cli --',
    errorHandler: (error) => {
      // commander has already printed the problem (or the help); keep its exit code
      process.exit((error as { exitCode?: number }).exitCode ?? 1);
    },
    serviceErrorHandler: (error) => {
      console.error(error.message);
      process.exit(1);
    },
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
