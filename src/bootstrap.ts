import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { DomainError } from './common/domain-error';
import { APP_CONFIG, AppConfig } from './config/app-config';
import { setupSwagger } from './openapi/swagger';
import { RedisIoAdapter } from './realtime/redis-io.adapter';
import { hostileInputMiddleware, verifyUtf8Body } from './security/hostile-input';

export function validationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) =>
      new DomainError('VALIDATION_FAILED', 'The request is not valid', {
        details: errors.slice(0, 20).map((e) => ({
          field: e.property,
          problems: Object.values(e.constraints ?? {}).concat(
            (e.children ?? []).length > 0 ? ['has invalid nested fields'] : [],
          ),
        })),
      }),
  });
}

// Everything an app needs besides its modules; shared by main.ts and the e2e tests.
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<AppConfig>(APP_CONFIG);
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(helmet({ contentSecurityPolicy: false }));
  app.enableCors({ origin: config.corsOrigins.length > 0 ? config.corsOrigins : false });
  app.useBodyParser('json', { limit: config.bodyLimit, strict: true, verify: verifyUtf8Body });
  app.useBodyParser('urlencoded', {
    limit: config.bodyLimit,
    extended: false,
    verify: verifyUtf8Body,
  });
  app.use(hostileInputMiddleware);
  app.useGlobalPipes(validationPipe());
  app.useWebSocketAdapter(new RedisIoAdapter(app, config));
  setupSwagger(app);
}

export async function createApp(): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    bufferLogs: true,
    bodyParser: false,
  });
  configureApp(app);
  return app;
}

export type App = INestApplication;
