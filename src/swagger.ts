import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type {
  ResponseObject,
  ResponsesObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { IDEMPOTENCY_HEADER_DOC } from './idempotency/idempotency.interceptor';
import { isRateLimitedPath } from './security/rate-limit.guard';
import { errorResponseObject } from './openapi/api-errors';

const WRITES = ['post', 'put', 'patch', 'delete'] as const;

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('FreshTrak registration service')
    .setDescription(
      'Registrations for food-bank distribution events. Participants use a JWT from the identity ' +
        'provider (role participant); staff routes under /api/v1/admin need role staff or admin. ' +
        'Every POST, PATCH and DELETE accepts an Idempotency-Key header. Every error body is ' +
        '{statusCode, code, message, details?}; branch on code. The ids, names and dates in the ' +
        'examples are samples.',
    )
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  return withIdempotency(withRateLimits(SwaggerModule.createDocument(app, config)));
}

// The rate-limit guard is global, so its 429 is documented from the guard's own rule rather
// than by a decorator each controller could forget.
function withRateLimits(document: OpenAPIObject): OpenAPIObject {
  const rateLimited = errorResponseObject('RATE_LIMITED');
  for (const [path, operations] of Object.entries(document.paths)) {
    if (!isRateLimitedPath(path)) continue;
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = operations[method];
      if (operation) operation.responses = { ...operation.responses, ...rateLimited };
    }
  }
  return document;
}

export function setupSwagger(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: undefined,
    // the token typed into Authorize survives a reload of the page
    swaggerOptions: { persistAuthorization: true },
  });
}

// Every write route carries the idempotency interceptor (its controller's, held to by
// test/idempotency/every-write-replays), so its header and its answers are documented on every
// write operation here rather than by a decorator each route could forget.
function withIdempotency(document: OpenAPIObject): OpenAPIObject {
  const answers = errorResponseObject({
    VALIDATION_FAILED: 'an Idempotency-Key that is not 1 to 255 visible ASCII characters',
    IDEMPOTENCY_KEY_IN_USE: 'the first request with this key is still running',
    IDEMPOTENCY_KEY_REUSED: 'this key was used with a different request',
    SERVICE_UNAVAILABLE:
      'the first request with this key was cut off (its process died) and recovery is finishing what it started',
  });
  for (const operations of Object.values(document.paths)) {
    for (const method of WRITES) {
      const operation = operations[method];
      if (!operation) continue;
      operation.parameters = [
        ...(operation.parameters ?? []),
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description: IDEMPOTENCY_HEADER_DOC,
          schema: { type: 'string', minLength: 1, maxLength: 255 },
        },
      ];
      operation.responses = mergeResponses(operation.responses, answers);
    }
  }
  return document;
}

/** A status the route documents already keeps its own words, examples and headers, plus ours. */
function mergeResponses(
  own: ResponsesObject,
  added: Record<string, ResponseObject>,
): ResponsesObject {
  const out: ResponsesObject = { ...own };
  for (const [status, response] of Object.entries(added)) {
    const mine = own[status] as ResponseObject | undefined;
    if (!mine?.content) {
      out[status] = response;
      continue;
    }
    const json = mine.content['application/json'] ?? {};
    out[status] = {
      ...mine,
      description: [mine.description, response.description].filter(Boolean).join('; '),
      headers: { ...response.headers, ...mine.headers },
      content: {
        ...mine.content,
        'application/json': {
          ...json,
          examples: { ...json.examples, ...response.content?.['application/json']?.examples },
        },
      },
    };
  }
  return out;
}
