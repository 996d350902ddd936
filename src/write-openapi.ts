import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

// Writes openapi.json from the routes and DTOs, without connecting to anything: the app is
// created in preview mode, so no provider (and no DataSource) is instantiated.
// `--check` compares instead, and exits 1 when the committed file is stale.

const OUTPUT = join(__dirname, '..', 'openapi.json');

/** Objects with their keys sorted, recursively: the file diffs cleanly whatever the scan order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export async function renderOpenApi(): Promise<string> {
  // the configuration is validated when the module is built; no request is ever verified here
  process.env.JWT_SECRET ??= 'openapi-placeholder-secret-not-used';
  const { AppModule } = await import('./app.module');
  const { buildOpenApiDocument } = await import('./swagger');
  const app = await NestFactory.create(AppModule, new FastifyAdapter(), {
    preview: true,
    logger: false,
    abortOnError: false,
  });
  try {
    return `${JSON.stringify(sortKeys(buildOpenApiDocument(app)), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const rendered = await renderOpenApi();
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(OUTPUT, 'utf8');
    } catch {
      // a missing file is stale too
    }
    if (committed !== rendered) {
      console.error('openapi.json is stale: run `npm run openapi` and commit the result.');
      process.exit(1);
    }
    console.log('openapi.json is up to date.');
    return;
  }
  writeFileSync(OUTPUT, rendered);
  console.log(`Wrote ${OUTPUT}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
