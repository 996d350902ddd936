import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { isRateLimitedPath } from '../security/rate-limit.guard';
import { errorResponseObject } from './api-errors';

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
  return withRateLimits(SwaggerModule.createDocument(app, config));
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
