import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { DomainError, errorBody } from './common/domain-error';
import { newRequestId } from './common/logging.module';
import { APP_CONFIG, AppConfig, loadConfig } from './config/app-config';
import { registerHttpMetrics } from './metrics/http-metrics.hook';
import { MetricsService } from './metrics/metrics.service';
import { setupSwagger } from './swagger';
import { RedisIoAdapter } from './realtime/redis-io.adapter';
import {
  HostileInputError,
  registerBodyParsers,
  registerHostileInputChecks,
} from './security/hostile-input';

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
export async function configureApp(app: NestFastifyApplication): Promise<void> {
  const config = app.get<AppConfig>(APP_CONFIG);
  app.useLogger(app.get(Logger));
  await app.register(fastifyHelmet, { contentSecurityPolicy: false });
  app.enableCors({ origin: config.corsOrigins.length > 0 ? config.corsOrigins : false });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-Id', request.id);
    done();
  });
  registerBodyParsers(fastify, config.bodyLimit);
  registerHostileInputChecks(fastify);
  registerHttpMetrics(fastify, app.get(MetricsService));
  app.useGlobalPipes(validationPipe());
  app.useWebSocketAdapter(new RedisIoAdapter(app, config));
  setupSwagger(app);
}

/** The Fastify adapter with the options both main.ts and the e2e tests use. */
export function fastifyAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.bodyLimit,
    // X-Forwarded-For is believed only from a proxy on this machine
    trustProxy: 'loopback',
    // the caller's X-Request-Id when it is a plain token, else a UUID; pino logs the same id
    genReqId: newRequestId,
    // GET /api/v1/event-dates/12/ answers like /12, as Express did
    // a path id longer than 100 characters reaches the route (a 404 there), as with Express
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 },
    // errors Fastify's router answers itself (a path that is not valid percent-encoding), in the
    // contract's shape
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const domain =
        error.code === 'FST_ERR_BAD_URL'
          ? new HostileInputError('path', 'is not valid UTF-8 text')
          : new DomainError('SERVICE_UNAVAILABLE', 'Try again shortly');
      const body = errorBody(domain);
      void reply.header('X-Request-Id', request.id).status(body.statusCode).send(body);
    },
  });
}

export async function createApp(): Promise<NestFastifyApplication> {
  const config = loadConfig();
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, fastifyAdapter(config), {
    bufferLogs: true,
    bodyParser: false,
  });
  await configureApp(app);
  return app;
}

export type App = INestApplication;
