import { Command, CommandRunner, Option } from 'nest-commander';
import { isValidIsoDate, isoToDateKey } from '../common/time';
import { DriftService } from '../registrations/saga/reconciliation/drift.service';

interface BackfillOptions {
  eventDate?: number;
  from?: string;
  apply?: boolean;
}

// `npm run cli -- backfill [--event-date ID] [--from YYYY-MM-DD] [--apply]`
// Exit codes: dry run 0 = no drift, 1 = drift found; --apply 0 = corrected (dates skipped
// because a saga stayed in flight are printed: run it again); 2 = bad options or a failure.
@Command({
  name: 'backfill',
  description: 'compare every reserved counter with the registrations; --apply corrects the drift',
})
export class BackfillCommand extends CommandRunner {
  constructor(private readonly drift: DriftService) {
    super();
  }

  async run(_args: string[], options: BackfillOptions): Promise<void> {
    if (options.from !== undefined && !isValidIsoDate(options.from)) {
      console.error(`--from must be a date YYYY-MM-DD; got "${options.from}"`);
      process.exitCode = 2;
      return;
    }
    const apply = options.apply === true;
    const results = await this.drift.check(
      {
        eventDateId: options.eventDate,
        fromDateKey: options.from ? isoToDateKey(options.from) : undefined,
      },
      apply,
    );
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
    process.exitCode = !apply && found > 0 ? 1 : 0;
  }

  @Option({ flags: '--event-date <id>', description: 'only this event date' })
  parseEventDate(value: string): number {
    if (!/^[1-9]\d{0,9}$/.test(value))
      throw new Error(`--event-date must be an id; got "${value}"`);
    return Number(value);
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
