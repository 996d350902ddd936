import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ApiErrors } from '../openapi/api-errors';
import { ReadinessService } from './readiness.service';

@ApiTags('health')
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessService,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up (no dependency is checked). No token.' })
  live(): { status: string } {
    return { status: 'ok' };
  }

  @Get('ready')
  // Terminus documents its own 503 body, but the global filter answers with the error envelope
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Both databases answer, and Redis when configured. No token.' })
  @ApiOkResponse({
    description: 'Every dependency answered',
    schema: {
      type: 'object',
      example: {
        status: 'ok',
        info: { publicDb: { status: 'up' }, privateDb: { status: 'up' } },
        error: {},
        details: { publicDb: { status: 'up' }, privateDb: { status: 'up' } },
      },
    },
  })
  @ApiErrors({ SERVICE_UNAVAILABLE: 'a database (or Redis, when configured) does not answer' })
  ready() {
    return this.health.check(this.readiness.checks());
  }
}
