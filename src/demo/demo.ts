import 'reflect-metadata';
import 'dotenv/config';
import {
  allowDemoSecret,
  DEFAULT_PRIVATE_DB_URL,
  DEFAULT_PUBLIC_DB_URL,
  DEMO_JWT_SECRET,
  loadConfig,
  parseDbUrl,
  type AppConfig,
} from '../config/app-config';
import { mintDevToken } from '../auth/token';
import { migratePrivate } from '../database/migrate';
import {
  connectCreatingDatabase,
  countRows,
  ensurePublicSchema,
  seedPrivateRegistrations,
  sampleTarget,
  seedPublicSchedule,
  type SeededSlot,
} from './demo-seed';

// `npm run demo`: a working service on a fresh machine with MariaDB running. Creates both
// databases when missing, seeds a demo schedule into an empty public database (an existing
// schedule is reused, never touched), migrates the private one, starts the server and prints
// what is needed to try it.

function log(line = ''): void {
  process.stdout.write(`${line}\n`);
}

interface PublicState {
  seeded: boolean;
  sample: { dateId?: number; slotId?: number };
  reservedSlots: SeededSlot[];
}

async function preparePublic(config: AppConfig): Promise<PublicState> {
  const sql = await connectCreatingDatabase(config.publicDb);
  try {
    const created = await ensurePublicSchema(sql);
    if (created.length > 0)
      log(`Public database ${config.publicDb.database}: created ${created.join(', ')}`);
    if ((await countRows(sql, 'events')) > 0) {
      log(
        `Public database ${config.publicDb.database} already holds events: reusing it, nothing seeded.`,
      );
      return { seeded: false, sample: await sampleTarget(sql), reservedSlots: [] };
    }
    const seed = await seedPublicSchedule(sql);
    log(`Public database ${config.publicDb.database}: seeded ${seed.dateIds.length} event dates.`);
    return { seeded: true, sample: await sampleTarget(sql), reservedSlots: seed.reservedSlots };
  } finally {
    await sql.end();
  }
}

async function main(): Promise<void> {
  allowDemoSecret();
  if (!process.env.JWT_SECRET?.trim() && !process.env.JWT_PUBLIC_KEY?.trim()) {
    process.env.JWT_SECRET = DEMO_JWT_SECRET;
    log(`JWT_SECRET is not set: using the DEVELOPMENT-ONLY demo secret "${DEMO_JWT_SECRET}".`);
  }
  // logs for the person watching: one short line per request (LOG_FORMAT=json gives JSON lines)
  process.env.LOG_FORMAT ||= 'pretty';
  process.env.PUBLIC_DB_URL ||= DEFAULT_PUBLIC_DB_URL;
  process.env.PRIVATE_DB_URL ||= DEFAULT_PRIVATE_DB_URL;
  const config = loadConfig(process.env);

  const schedule = await preparePublic(config);
  const applied = await migratePrivate(parseDbUrl('PRIVATE_DB_URL', process.env.PRIVATE_DB_URL));
  log(
    `Private database ${config.privateDb.database}: ${applied.length === 0 ? 'up to date' : `applied ${applied.join(', ')}`}.`,
  );
  if (schedule.seeded && schedule.reservedSlots.length > 0) {
    const sql = await connectCreatingDatabase(config.privateDb);
    try {
      const n = await seedPrivateRegistrations(sql, schedule.reservedSlots);
      log(
        `Private database ${config.privateDb.database}: ${n} demo registrations behind the reserved places.`,
      );
    } finally {
      await sql.end();
    }
  }

  const { createApp } = await import('../bootstrap');
  const app = await createApp();
  // every interface, as Express did: Fastify alone listens on localhost, useless in a container
  await app.listen(config.port, '0.0.0.0');
  const base = `http://localhost:${config.port}`;
  const participant = mintDevToken(config, 'demo-participant', ['participant']);
  const staff = mintDevToken(config, 'demo-staff', ['staff']);
  const dateId = schedule.sample.dateId ?? 1;
  const slot =
    schedule.sample.slotId === undefined ? '' : `,"eventSlotId":${schedule.sample.slotId}`;
  // printed once the server listens, so nothing scrolls it away before it is read
  log();
  log(`FreshTrak registration service (demo) on ${base}`);
  log(`Swagger UI:        ${base}/docs   (Authorize with one of the tokens below)`);
  log(`OpenAPI document:  ${base}/docs-json`);
  log();
  log('Tokens (paste these two lines into your shell):');
  log(`  PARTICIPANT=${participant}`);
  log(`  STAFF=${staff}`);
  log();
  log('Try:');
  log(`  curl -s '${base}/api/v1/events'`);
  log(`  curl -s '${base}/api/v1/event-dates/${dateId}'`);
  log(
    `  curl -s -X POST '${base}/api/v1/me/household' -H "Authorization: Bearer $PARTICIPANT" ` +
      `-H 'Content-Type: application/json' ` +
      `-d '{"members":[{"firstName":"Ana","lastName":"Sample","dateOfBirth":"1984-03-09","isHeadOfHousehold":true}]}'`,
  );
  log(
    `  curl -s -X POST '${base}/api/v1/registrations' -H "Authorization: Bearer $PARTICIPANT" ` +
      `-H 'Content-Type: application/json' -d '{"eventDateId":${dateId}${slot}}'`,
  );
  log(
    `  curl -s '${base}/api/v1/admin/event-dates/${dateId}/registrations' -H "Authorization: Bearer $STAFF"`,
  );
  log();
  log('Requests are logged below, one line each (LOG_FORMAT=json for JSON lines).');
  log('Ctrl-C stops the server.');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
