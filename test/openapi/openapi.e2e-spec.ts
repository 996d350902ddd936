import request from 'supertest';
import { ERROR_CODES, ErrorCode, httpStatusOf } from '../../src/common/domain-error';
import { ALREADY_CHECKED_IN_HEADER } from '../../src/admin/admin-registrations.controller';
import { createTestApp, TestContext } from '../support/app';

// The document integrators generate clients from: every error it promises has the envelope's
// schema and an example a client can match on, and the rate limit is never left out.

interface Example {
  summary?: string;
  value: { statusCode: number; code: string; message: string };
}
interface Media {
  schema?: { $ref?: string };
  examples?: Record<string, Example>;
  example?: Record<string, unknown>;
}
interface Response {
  description: string;
  content?: Record<string, Media>;
  headers?: Record<string, unknown>;
}
interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, Response>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { required?: string[]; properties: Record<string, unknown> }>;
  };
}

const ENVELOPE = '#/components/schemas/ErrorResponse';
// probes and scrapers are never rate limited (src/security/rate-limit.guard.ts)
const UNLIMITED = new Set(['/health/live', '/health/ready']);

describe('OpenAPI document', () => {
  let ctx: TestContext;
  let doc: Document;
  const operations: { name: string; path: string; operation: Operation }[] = [];

  beforeAll(async () => {
    ctx = await createTestApp();
    doc = (await request(ctx.http).get('/docs-json').expect(200)).body as Document;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        operations.push({ name: `${method.toUpperCase()} ${path}`, path, operation });
      }
    }
  });

  afterAll(async () => {
    await ctx?.close();
  });

  it('documents the envelope: statusCode, code (one of the stable codes) and message', () => {
    const schema = doc.components.schemas.ErrorResponse;
    expect(schema.required?.sort()).toEqual(['code', 'message', 'statusCode']);
    expect((schema.properties.code as { enum: string[] }).enum.sort()).toEqual(
      [...ERROR_CODES, 'INTERNAL_ERROR'].sort(),
    );
  });

  it('gives every error response the envelope schema and examples with a stable code of its status', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const { name, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (/^2/.test(status)) continue;
        checked++;
        const media = response.content?.['application/json'];
        if (media?.schema?.$ref !== ENVELOPE) problems.push(`${name} ${status}: not the envelope`);
        const examples = Object.values(media?.examples ?? {});
        if (examples.length === 0) problems.push(`${name} ${status}: no example`);
        for (const { value } of examples) {
          const known = (ERROR_CODES as readonly string[]).includes(value.code);
          if (!known) problems.push(`${name} ${status}: example code ${value.code} is not a code`);
          else if (httpStatusOf(value.code as ErrorCode) !== Number(status))
            problems.push(`${name} ${status}: ${value.code} is not a ${status}`);
          if (value.statusCode !== Number(status) || typeof value.message !== 'string')
            problems.push(`${name} ${status}: example body is not an envelope`);
        }
        // every code the description promises has its example, and the other way round
        const named = new Set(
          (response.description.match(/\b[A-Z][A-Z_]{4,}\b/g) ?? []).filter((w) =>
            (ERROR_CODES as readonly string[]).includes(w),
          ),
        );
        const shown = new Set(examples.map((e) => e.value.code));
        if ([...named].sort().join() !== [...shown].sort().join())
          problems.push(
            `${name} ${status}: describes ${[...named].join()} but shows ${[...shown].join()}`,
          );
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it('documents 429 RATE_LIMITED with Retry-After on every rate-limited route', () => {
    const missing = operations
      .filter(({ path }) => !UNLIMITED.has(path))
      .filter(({ operation }) => {
        const response = operation.responses['429'];
        const codes = Object.values(response?.content?.['application/json']?.examples ?? {});
        return (
          !codes.some((e) => e.value.code === 'RATE_LIMITED') || !response.headers?.['Retry-After']
        );
      })
      .map(({ name }) => name);
    expect(missing).toEqual([]);
    expect(operations.filter(({ path }) => !UNLIMITED.has(path)).length).toBeGreaterThan(20);
  });

  it('documents 400 VALIDATION_FAILED wherever a body, a query or an Idempotency-Key is validated', () => {
    const missing = operations
      .filter(
        ({ operation }) =>
          operation.requestBody !== undefined ||
          (operation.parameters ?? []).some(
            (p) => p.in === 'query' || p.name === 'Idempotency-Key',
          ),
      )
      .filter(({ operation }) => operation.responses['400'] === undefined)
      .map(({ name }) => name);
    expect(missing).toEqual([]);
  });

  it("documents the 404 a participant gets for another household's registration", () => {
    for (const method of ['get', 'patch', 'delete']) {
      const response = doc.paths['/api/v1/registrations/{id}'][method].responses['404'];
      const codes = Object.values(response.content?.['application/json']?.examples ?? {}).map(
        (e) => e.value.code,
      );
      expect({ method, has: codes.includes('REGISTRATION_NOT_FOUND') }).toEqual({
        method,
        has: true,
      });
    }
  });

  it(`documents ${ALREADY_CHECKED_IN_HEADER} as a response header, and a check-in that has a time`, () => {
    const asParameter = operations.filter(({ operation }) =>
      (operation.parameters ?? []).some((p) => p.name === ALREADY_CHECKED_IN_HEADER),
    );
    expect(asParameter.map(({ name }) => name)).toEqual([]);
    const ok = doc.paths['/api/v1/admin/registrations/{id}/check-in'].post.responses['200'];
    expect(ok.headers?.[ALREADY_CHECKED_IN_HEADER]).toBeDefined();
    expect(ok.content?.['application/json']?.example).toMatchObject({
      status: 'checked_in',
      checkedInAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
    });
  });

  it('keeps the token typed into Authorize across reloads of Swagger UI', async () => {
    const init = await request(ctx.http).get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toMatch(/"persistAuthorization":\s*true/);
  });
});
