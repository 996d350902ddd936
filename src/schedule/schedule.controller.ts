import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { publicIdOrNotFound } from '../common/ids';
import { copyOf, EventDateCache, EventDateCopy, notModified } from './event-date.cache';
import { EventDateView, EventPage, EventsQuery } from './schedule.dto';
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
  async listEvents(
    @Query() query: EventsQuery,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    answer(copyOf(await this.schedule.listEvents(query)), ifNoneMatch, reply);
  }

  @Get('event-dates/:id')
  @ApiOperation({
    summary:
      'One date with its hours, slots and waitlist. A past or ended date is still shown, with acceptReservations false. No token.',
  })
  @ApiParam({ name: 'id', example: 12 })
  @ApiOkResponse({ type: EventDateView })
  @ApiErrors({ EVENT_DATE_NOT_FOUND: 'unknown, inactive or unpublished' })
  async getEventDate(
    @Param('id') id: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const copy = await this.eventDates.get(publicIdOrNotFound(id, eventDateNotFound));
    answer(copy, ifNoneMatch, reply);
  }
}

// Polling clients send the ETag back in If-None-Match and get a bodiless 304 while nothing
// changed. no-cache: a cache may keep the answer but must ask again before using it.
// The copy's JSON is sent as it is: serialised once per copy, not once per reader.
function answer(copy: EventDateCopy, ifNoneMatch: string | undefined, reply: FastifyReply): void {
  void reply.header('ETag', copy.etag).header('Cache-Control', 'no-cache');
  if (notModified(ifNoneMatch, copy.etag)) {
    void reply.status(304).send();
    return;
  }
  void reply.status(200).type('application/json; charset=utf-8').send(copy.json);
}
