import type { FastifyInstance } from 'fastify';
import { MetricsService } from './metrics.service';

// Times every request until its answer is sent, whatever ended it (hook, guard, filter,
// handler). The route label is the matched route pattern, never the raw URL, so ids in paths
// do not create a series each.
export function registerHttpMetrics(fastify: FastifyInstance, metrics: MetricsService): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    metrics.observeHttp(
      request.method,
      // the not-found handler has no route pattern
      route ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
}
