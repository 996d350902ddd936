import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB, PUBLIC_DB } from '../database/database.constants';
import { RedisHealthIndicator } from './redis.health';

@ApiTags('health')
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    @InjectDataSource(PUBLIC_DB) private readonly publicDb: DataSource,
    @InjectDataSource(PRIVATE_DB) private readonly privateDb: DataSource,
    private readonly redis: RedisHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up (no dependency is checked). No token.' })
  live(): { status: string } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Both databases answer, and Redis when configured. No token.' })
  ready() {
    return this.health.check([
      () => this.db.pingCheck('publicDb', { connection: this.publicDb, timeout: 1500 }),
      () => this.db.pingCheck('privateDb', { connection: this.privateDb, timeout: 1500 }),
      ...(this.redis.configured ? [() => this.redis.pingCheck('redis')] : []),
    ]);
  }
}
