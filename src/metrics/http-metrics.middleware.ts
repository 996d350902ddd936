import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/** Where this middleware is mounted; Express reports it as the route when no controller matched. */
export const ALL_ROUTES = '{*splat}';

// Times every request until its response is finished, whatever ended it (guard, filter,
// handler). The route label is the matched route pattern, never the raw URL, so ids in paths
// do not create a series each.
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    response.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (request.route as { path?: unknown } | undefined)?.path;
      this.metrics.observeHttp(
        request.method,
        typeof route === 'string' && !route.endsWith(ALL_ROUTES)
          ? `${request.baseUrl}${route}`
          : 'unmatched',
        response.statusCode,
        seconds,
      );
    });
    next();
  }
}
