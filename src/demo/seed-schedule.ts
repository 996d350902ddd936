import 'reflect-metadata';
import 'dotenv/config';
import {
  DEFAULT_PRIVATE_DB_URL,
  DEFAULT_PUBLIC_DB_URL,
  parseDbUrl,
  type DbUrl,
} from '../config/app-config';
import {
  connectCreatingDatabase,
  countRows,
  ensurePublicSchema,
  seedPrivateRegistrations,
  seedPublicSchedule,
} from './demo-seed';

// `node dist/demo/seed-schedule.js` (docker compose --profile demo): loads the demo schedule of
// `npm run demo` into a public database that has no events yet, and the private registrations
// behind its reserved places, then exits. An existing schedule is left untouched, so running it
// again is harmless. The private database must be migrated already (the compose `migrate`
// service). It needs only the two database URLs; the public one with a user that may INSERT
// (the service's own account may only update the counters there).

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function seedDemoSchedule(publicDb: DbUrl, privateDb: DbUrl): Promise<void> {
  const pub = await connectCreatingDatabase(publicDb);
  let seed;
  try {
    await ensurePublicSchema(pub);
    if ((await countRows(pub, 'events')) > 0) {
      log(`Public database ${publicDb.database} already holds events: nothing seeded.`);
      return;
    }
    seed = await seedPublicSchedule(pub);
  } finally {
    await pub.end();
  }
  log(`Public database ${publicDb.database}: seeded ${seed.dateIds.length} event dates.`);
  const priv = await connectCreatingDatabase(privateDb);
  try {
    const n = await seedPrivateRegistrations(priv, seed.reservedSlots);
    log(
      `Private database ${privateDb.database}: ${n} demo registrations behind the reserved places.`,
    );
  } finally {
    await priv.end();
  }
}

if (require.main === module) {
  Promise.resolve()
    .then(() =>
      seedDemoSchedule(
        parseDbUrl('PUBLIC_DB_URL', process.env.PUBLIC_DB_URL || DEFAULT_PUBLIC_DB_URL),
        parseDbUrl('PRIVATE_DB_URL', process.env.PRIVATE_DB_URL || DEFAULT_PRIVATE_DB_URL),
      ),
    )
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
