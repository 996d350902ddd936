import { randomUUID } from 'node:crypto';
import { Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { withLogFormat } from './pretty-logs';

/**
 * The request's id: the caller's X-Request-Id when it is a plain token, else a new UUID. Fastify
 * assigns it once (its genReqId) and copies it onto the raw request, where pino finds it; a hook
 * in bootstrap sends it back in X-Request-Id, also on answers refused before any route ran.
 */
export function newRequestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}

function pinoRequestId(request: IncomingMessage): string {
  const id = (request as IncomingMessage & { id?: unknown }).id;
  return typeof id === 'string' ? id : newRequestId(request);
}

// Structured JSON logs, one line per request, with a request id that is also returned in the
// X-Request-Id header. Tokens, names, dates of birth and special requirements never reach a
// log line: bodies are dropped, and so are the bound values of a failed query (TypeORM's
// `parameters`, the driver's `sql` with the values inlined), which would carry them.
@Global()
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        pinoHttp: withLogFormat(config.logFormat, {
          level: config.logLevel,
          genReqId: pinoRequestId,
          redact: {
            paths: [
              'req.headers.authorization',
              'req.headers.cookie',
              'req.body',
              'res.headers["set-cookie"]',
              '*.firstName',
              '*.lastName',
              '*.dateOfBirth',
              '*.token',
              '*.specialRequirements',
              'err.parameters',
              'err.sql',
              'err.driverError',
            ],
            remove: true,
          },
          // a line carries the id, method, url, status and latency (responseTime), never headers
          serializers: {
            req: (req: { id: unknown; method: string; url: string }) => ({
              id: req.id,
              method: req.method,
              url: req.url,
            }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
          // probes and scrapes every few seconds would drown the request log
          autoLogging: {
            ignore: (req: IncomingMessage) => req.url === '/health/live' || req.url === '/metrics',
          },
        }),
      }),
    }),
  ],
})
export class LoggingModule {}
