import { Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

// Global so any feature can inject MetricsService without importing this module. The HTTP
// timings come from a Fastify hook (http-metrics.hook.ts) that bootstrap registers.
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
