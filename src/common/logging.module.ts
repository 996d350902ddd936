import { randomUUID } from 'node:crypto';
import { Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { withLogFormat } from './pretty-logs';

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
          genReqId: (request: IncomingMessage, response: ServerResponse) => {
            const given = request.headers['x-request-id'];
            const id =
              typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
            response.setHeader('X-Request-Id', id);
            return id;
          },
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
          serializers: {
            req: (req: { id: unknown; method: string; url: string }) => ({
              id: req.id,
              method: req.method,
              url: req.url,
            }),
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
