import { Readable } from 'node:stream';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  StreamableFile,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser, StaffOnly } from '../auth/auth.guards';
import { DomainError } from '../common/domain-error';
import { publicIdOrNotFound } from '../common/ids';
import { Page } from '../common/paging';
import { Idempotent } from '../idempotency/idempotency.interceptor';
import { DateSettings, RegistrationView } from '../registrations/registration.types';
import {
  AdminEventDatesService,
  AdminRegistrationView,
  DateStats,
} from './admin-event-dates.service';
import {
  AdminRegistrationPage,
  AdminRegistrationsQuery,
  PromoteResponse,
  SettingsBody,
  SettingsResponse,
  StatsResponse,
  WaitlistResponse,
} from './admin.dto';

const dateNotFound = () => new DomainError('EVENT_DATE_NOT_FOUND', 'No such event date');
const dateId = (id: string) => publicIdOrNotFound(id, dateNotFound);

@ApiTags('admin: event dates')
@StaffOnly()
@ApiParam({ name: 'id', example: 12, description: 'event_date_id' })
@ApiNotFoundResponse({
  description: 'EVENT_DATE_NOT_FOUND (staff see any date in the schedule, published or not)',
})
@Controller('api/v1/admin/event-dates')
export class AdminEventDatesController {
  constructor(private readonly dates: AdminEventDatesService) {}

  @Get(':id/registrations')
  @ApiOperation({
    summary: "A date's registrations with their households, oldest first. Role: staff or admin.",
  })
  @ApiOkResponse({ type: AdminRegistrationPage })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED' })
  list(
    @Param('id') id: string,
    @Query() query: AdminRegistrationsQuery,
  ): Promise<Page<AdminRegistrationView>> {
    return this.dates.list(
      dateId(id),
      { status: query.status, slotId: query.slotId },
      query.page,
      query.pageSize,
    );
  }

  @Get(':id/registrations.csv')
  @ApiOperation({
    summary:
      "A date's registrations as CSV, any status, streamed. Role: staff or admin. UTF-8 with a byte order mark " +
      '(for spreadsheets), RFC 4180 quoting, CRLF line ends. Columns: registrationId, status, householdId, ' +
      'eventSlotId, startTime, endTime (the slot, or the date when it has no slots; blank for a slot no longer ' +
      'active), partySize, spots, createdAt, cancelledAt, checkedInAt, memberIds (";"-separated), memberNames ' +
      '("; "-separated "first last").',
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'text/csv; charset=utf-8', schema: { type: 'string' } })
  async exportCsv(@Param('id') id: string): Promise<StreamableFile> {
    const eventDateId = dateId(id);
    const lines = await this.dates.exportCsv(eventDateId);
    // streamed with backpressure; the platform stops reading if the client goes away
    return new StreamableFile(Readable.from(lines, { objectMode: false }), {
      type: 'text/csv; charset=utf-8',
      disposition: `attachment; filename="event-date-${eventDateId}-registrations.csv"`,
    });
  }

  @Get(':id/waitlist')
  @ApiOperation({
    summary:
      "The date's waitlist in promotion order: by slot start time, then waitlistPosition. Role: staff or admin.",
  })
  @ApiOkResponse({ type: WaitlistResponse })
  async waitlist(@Param('id') id: string): Promise<{ items: RegistrationView[] }> {
    return { items: await this.dates.waitlist(dateId(id)) };
  }

  @Post(':id/waitlist/promote')
  @HttpCode(200)
  @Idempotent()
  @ApiOperation({
    summary:
      'Confirms the oldest waitlisted registrations that fit the counters now (first fit, each queue). Role: staff or admin.',
  })
  @ApiOkResponse({ type: PromoteResponse })
  async promote(
    @Param('id') id: string,
    @CurrentUser() user: AuthUser,
  ): Promise<{ promoted: string[] }> {
    return { promoted: await this.dates.promote(dateId(id), user.sub) };
  }

  @Put(':id/settings')
  @Idempotent()
  @ApiOperation({
    summary:
      "Changes the date's waitlist settings and capacity unit; omitted fields keep their value. Role: staff or admin. " +
      'Never moves a counter and never promotes: enabling the waitlist or raising its limit lets more join, ' +
      'lowering it keeps who already waits. The unit changes only while the date has no active registration.',
  })
  @ApiOkResponse({ type: SettingsResponse })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED' })
  @ApiConflictResponse({
    description: 'INVALID_STATE: the unit changes while the date has active registrations',
  })
  updateSettings(@Param('id') id: string, @Body() body: SettingsBody): Promise<DateSettings> {
    return this.dates.updateSettings(dateId(id), {
      waitlistEnabled: body.waitlistEnabled,
      waitlistLimit: body.waitlistLimit,
      capacityUnit: body.capacityUnit,
    });
  }

  @Get(':id/stats')
  @ApiOperation({
    summary:
      "The date's figures: counters, registrations by status, waitlist and service. Role: staff or admin.",
  })
  @ApiOkResponse({ type: StatsResponse })
  stats(@Param('id') id: string): Promise<DateStats> {
    return this.dates.stats(dateId(id));
  }
}
