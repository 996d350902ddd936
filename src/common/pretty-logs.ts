import type { DestinationStream, LoggerOptions } from 'pino';
import type { Options } from 'pino-http';

// LOG_FORMAT=pretty (what `npm run demo` selects): logs for a person at a terminal. One short
// line per request, Nest's start-up chatter dropped, warnings and errors kept. pino-pretty is a
// development dependency, so it is loaded only here, and only when this format is chosen.

// the contexts that narrate Nest's boot (modules loaded, routes mapped, app started)
const START_UP = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
  'WebSocketsController',
]);
const INFO = 30;

interface LogRecord {
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  responseTime?: number;
  context?: unknown;
  [key: string]: unknown;
}

/** An info line of Nest narrating its boot; its warnings and errors are never dropped. */
export function isStartUpChatter(first: unknown, level: number): boolean {
  const context = (first as { context?: unknown } | null)?.context;
  return level <= INFO && typeof context === 'string' && START_UP.has(context);
}

/** The text of one pretty line: `GET /api/v1/events 200 12ms` for a request. */
export function prettyLine(log: LogRecord, messageKey = 'msg'): string {
  if (log.req && log.res)
    return `${log.req.method} ${log.req.url} ${log.res.statusCode} ${log.responseTime}ms`;
  const context = typeof log.context === 'string' ? `[${log.context}] ` : '';
  const message = log[messageKey];
  return `${context}${typeof message === 'string' ? message : ''}`;
}

function prettyLogs(): { options: LoggerOptions; stream: DestinationStream } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return {
    options: {
      hooks: {
        logMethod(args, method, level) {
          if (!isStartUpChatter(args[0], level)) method.apply(this, args);
        },
      },
    },
    // synchronous, so a line logged before the demo prints its banner appears before it
    stream: pretty({
      sync: true,
      colorize: process.stdout.isTTY,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,req,res,responseTime,context,reqId',
      singleLine: true,
      messageFormat: (log, messageKey) => prettyLine(log, messageKey),
    }),
  };
}

/** pino-http's options as they are for json, or with the pretty stream and filter. */
export function withLogFormat(
  format: 'json' | 'pretty',
  options: Options,
): Options | [Options, DestinationStream] {
  if (format === 'json') return options;
  const pretty = prettyLogs();
  return [{ ...options, ...pretty.options }, pretty.stream];
}
