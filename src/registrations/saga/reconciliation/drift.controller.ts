import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { StaffOnly } from '../../../auth/auth.guards';
import { MAX_PUBLIC_ID } from '../../../common/ids';
import { DriftService } from './drift.service';

class DriftQuery {
  @ApiPropertyOptional({
    example: 12,
    description: 'one event date; all dates with reservations when omitted',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PUBLIC_ID)
  eventDateId?: number;
}

class DriftItem {
  @ApiProperty({ enum: ['slot', 'hour', 'date'], example: 'slot' }) level!:
    'slot' | 'hour' | 'date';
  @ApiProperty({ example: 345 }) id!: number;
  @ApiProperty({ example: 7, description: 'the public reserved counter' }) reserved!: number;
  @ApiProperty({ example: 6, description: 'spots of the confirmed and checked-in registrations' })
  expected!: number;
  @ApiProperty({ example: 1, description: 'reserved - expected' }) difference!: number;
}

class DriftReport {
  @ApiProperty({ type: [DriftItem] }) items!: DriftItem[];
  @ApiProperty({
    example: [],
    type: [Number],
    description: 'event dates not compared because a registration was in flight on them',
  })
  skippedEventDateIds!: number[];
}

@ApiTags('staff')
@StaffOnly()
@Controller('api/v1/admin/drift')
export class DriftController {
  constructor(private readonly drift: DriftService) {}

  @Get()
  @ApiOperation({
    summary:
      'Counters whose reserved differs from the spots of their active registrations (only those). ' +
      'Reports, never corrects: use `npm run cli -- backfill --apply`. Role: staff or admin.',
  })
  @ApiOkResponse({ type: DriftReport })
  async report(@Query() query: DriftQuery): Promise<DriftReport> {
    const results = await this.drift.check({ eventDateId: query.eventDateId }, false);
    return {
      items: results.flatMap((r) =>
        r.drift.map((d) => ({
          level: d.level,
          id: d.id,
          reserved: d.reserved,
          expected: d.expected,
          difference: d.difference,
        })),
      ),
      skippedEventDateIds: results.filter((r) => r.skipped).map((r) => r.eventDateId),
    };
  }
}
