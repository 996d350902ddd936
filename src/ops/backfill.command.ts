import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command, CommandRunner, Option } from 'nest-commander';
import { CommonModule } from '../common/common.module';
import { isValidIsoDate, isoToDateKey } from '../common/time';
import type { AppConfig } from '../config/app-config';
import { DatabaseModule } from '../database/database.module';
import { MetricsModule } from '../metrics/metrics.module';
import { DriftScope, DriftService } from '../registrations/saga/reconciliation/drift.service';
import { ReconciliationModule } from '../registrations/saga/reconciliation/reconciliation.module';
import { ScheduleRepository } from '../schedule/schedule.repository';
import {
  CliFailure,
  commandConfig,
  CommandConfigModule,
  EXIT,
  mustReachDatabases,
  oneLine,
} from './cli-failure';

interface BackfillOptions {
  eventDate?: string;
  from?: string;
  apply?: boolean;
}

/** The options as a scope, or a CliFailure saying which one is wrong. */
export function backfillScope(options: BackfillOptions): DriftScope {
  const scope: DriftScope = {};
  if (options.eventDate !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(options.eventDate))
      throw new CliFailure(`--event-date must be an event date id; got "${options.eventDate}"`);
    scope.eventDateId = Number(options.eventDate);
  }
  if (options.from !== undefined) {
    if (!isValidIsoDate(options.from))
      throw new CliFailure(`--from must be a date YYYY-MM-DD; got "${options.from}"`);
    scope.fromDateKey = isoToDateKey(options.from);
  }
  return scope;
}

// What backfill needs, and only that: it is built when the command runs, so `--help` and bad
// options never touch a database, and it never asks for JWT_SECRET (it handles no token).
@Module({ imports: [CommonModule, MetricsModule, DatabaseModule, ReconciliationModule] })
class BackfillModule {}

// `npm run cli -- backfill [--event-date ID] [--from YYYY-MM-DD] [--apply]`
// Exit codes: dry run 0 = no drift, 1 = drift found; --apply 0 = corrected (dates skipped
// because a saga stayed in flight are printed: run it again); 2 = bad options, an unknown
// date, an unreachable database or any other failure.
@Command({
  name: 'backfill',
  description: 'compare every reserved counter with the registrations; --apply corrects the drift',
})
export class BackfillCommand extends CommandRunner {
  async run(_args: string[], options: BackfillOptions): Promise<void> {
    const scope = backfillScope(options);
    const apply = options.apply === true;
    const config = commandConfig({ jwt: 'on-use' });
    await mustReachDatabases(config);
    const app = await openContext(config);
    try {
      if (
        scope.eventDateId !== undefined &&
        !(await app.get(ScheduleRepository).findDate(scope.eventDateId))
      ) {
        throw new CliFailure(`event date ${scope.eventDateId} not found`);
      }
      const results = await app.get(DriftService).check(scope, apply);
      let found = 0;
      for (const result of results) {
        if (result.skipped) {
          console.log(
            `date ${result.eventDateId}: skipped, a registration is in flight (sagas ${result.inFlight.join(', ')})`,
          );
        }
        for (const d of result.drift) {
          found++;
          const sign = d.difference > 0 ? '+' : '';
          console.log(
            `${apply ? 'fixed ' : ''}${d.level} ${d.id} (date ${d.eventDateId}): reserved ${d.reserved}, ` +
              `expected ${d.expected}, difference ${sign}${d.difference}`,
          );
        }
      }
      const skipped = results.filter((r) => r.skipped).length;
      console.log(
        `${results.length} date(s) checked, ${found} counter(s) ${apply ? 'corrected' : 'drifted'}` +
          (skipped > 0 ? `, ${skipped} skipped` : ''),
      );
      process.exitCode = !apply && found > 0 ? EXIT.drift : EXIT.ok;
    } finally {
      await app.close();
    }
  }

  // values are checked in run(), where a bad one becomes exit 2 with the option named
  @Option({ flags: '--event-date <id>', description: 'only this event date (its id)' })
  parseEventDate(value: string): string {
    return value;
  }

  @Option({ flags: '--from <date>', description: 'only dates on or after YYYY-MM-DD' })
  parseFrom(value: string): string {
    return value;
  }

  @Option({
    flags: '--apply',
    description: 'correct the counters (safe while registrations are taken)',
  })
  parseApply(): boolean {
    return true;
  }
}

async function openContext(config: AppConfig) {
  try {
    // no framework log: the command prints its own lines, and a failure is one line
    return await NestFactory.createApplicationContext(
      { module: BackfillModule, imports: [CommandConfigModule.with(config)] },
      { logger: false, abortOnError: false },
    );
  } catch (error) {
    throw new CliFailure(`backfill could not start: ${oneLine(error)}`);
  }
}
