import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { publicIdOrNotFound } from '../common/ids';
import { Page } from '../common/paging';
import { EventDateCache } from './event-date.cache';
import { EventDateView, EventPage, EventView, EventsQuery } from './schedule.dto';
import { eventDateNotFound, ScheduleService } from './schedule.service';
import { ApiErrors } from '../openapi/api-errors';

@ApiTags('schedule')
@Controller('api/v1')
export class ScheduleController {
  constructor(
    private readonly schedule: ScheduleService,
    private readonly eventDates: EventDateCache,
  ) {}

  @Get('events')
  @ApiOperation({
    summary: 'Published, active events with the dates that can be booked now. No token.',
  })
  @ApiOkResponse({ type: EventPage })
  @ApiErrors({ VALIDATION_FAILED: 'a bad date, range or paging parameter, or an unknown one' })
  listEvents(@Query() query: EventsQuery): Promise<Page<EventView>> {
    return this.schedule.listEvents(query);
  }

  @Get('event-dates/:id')
  @ApiOperation({
    summary:
      'One date with its hours, slots and waitlist. A past or ended date is still shown, with acceptReservations false. No token.',
  })
  @ApiParam({ name: 'id', example: 12 })
  @ApiOkResponse({ type: EventDateView })
  @ApiErrors({ EVENT_DATE_NOT_FOUND: 'unknown, inactive or unpublished' })
  getEventDate(@Param('id') id: string): Promise<EventDateView> {
    return this.eventDates.get(publicIdOrNotFound(id, eventDateNotFound));
  }
}
