import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { IDEMPOTENCY_HEADER_DOC } from '../idempotency/idempotency.interceptor';

const WRITES = ['post', 'put', 'patch', 'delete'] as const;

// The interceptor is global, so the header is documented on every write operation here rather
// than by a decorator each route could forget.
function documentIdempotencyKey(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const method of WRITES) {
      const operation = item[method];
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
    }
  }
  return document;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('FreshTrak registration service')
    .setDescription(
      'Registrations for food-bank distribution events. Participants use a JWT from the identity ' +
        'provider (role participant); staff routes under /api/v1/admin need role staff or admin. ' +
        'Every POST, PATCH and DELETE accepts an Idempotency-Key header.',
    )
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  return documentIdempotencyKey(SwaggerModule.createDocument(app, config));
}

export function setupSwagger(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: undefined,
  });
}
