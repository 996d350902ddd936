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
import { ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser, StaffOnly } from '../auth/auth.guards';
import { DomainError } from '../common/domain-error';
import { publicIdOrNotFound } from '../common/ids';
import { Page } from '../common/paging';
import { DateSettings, RegistrationView } from '../registrations/registration.types';
import {
  AdminEventDatesService,
  AdminRegistrationView,
  DateStats,
} from './admin-event-dates.service';
import {
  AdminRegistrationPage,
  AdminRegistrationsQuery,
  CloseWaitlistResponse,
  PromoteResponse,
  SettingsBody,
  SettingsResponse,
  StatsResponse,
  WaitlistResponse,
} from './admin.dto';
import { ApiErrors, BODY_ERRORS, QUERY_ERRORS } from '../openapi/api-errors';
import { contentDisposition } from './registrations-csv';
import { Idempotent } from '../idempotency/idempotency.interceptor';

const dateNotFound = () => new DomainError('EVENT_DATE_NOT_FOUND', 'No such event date');
const dateId = (id: string) => publicIdOrNotFound(id, dateNotFound);

@ApiTags('admin: event dates')
@StaffOnly()
@ApiParam({ name: 'id', example: 12, description: 'event_date_id' })
@ApiErrors({
  EVENT_DATE_NOT_FOUND: 'no such date (staff see any date in the schedule, published or not)',
})
@Idempotent()
@Controller('api/v1/admin/event-dates')
export class AdminEventDatesController {
  constructor(private readonly dates: AdminEventDatesService) {}

  @Get(':id/registrations')
  @ApiOperation({
    summary: "A date's registrations with their households, oldest first. Role: staff or admin.",
  })
  @ApiOkResponse({ type: AdminRegistrationPage })
  @ApiErrors(QUERY_ERRORS)
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
      "A date's registrations as CSV, any status, streamed, in the order staff work: by slot start time, then " +
      "the lead member's last and first name, then registration id. Role: staff or admin. UTF-8 with a byte " +
      'order mark (for spreadsheets), RFC 4180 quoting, CRLF line ends; a cell starting with = + - @ tab or CR ' +
      "gets a leading ' so no spreadsheet runs it as a formula. Columns: Event, Date, Slot start, Slot end " +
      '(the slot, or the date when it has no slots; blank for a slot no longer active), Last name, First name ' +
      '(the lead: the head of household when on it, else the first member), Members ("; "-separated "first ' +
      'last"), Status, Waitlist position, Party size, Spots, Checked in (yes/no), Checked in at, Special ' +
      'requirements (blank when none), Registered at, ' +
      'Cancelled at, Registration id, Household id, Slot id, Member ids (";"-separated). Every time is the ' +
      "event's local time (events.time_zone; UTC when the schedule has none), named in its header, e.g. " +
      '"Checked in at (America/New_York)", written YYYY-MM-DD HH:MM:SS. File name: the event name slugified ' +
      'and the date, e.g. downtown-community-pantry-2026-12-03.csv (filename* carries non-ASCII names).',
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'text/csv; charset=utf-8', schema: { type: 'string' } })
  async exportCsv(@Param('id') id: string): Promise<StreamableFile> {
    const csv = await this.dates.exportCsv(dateId(id));
    // a StreamableFile, not the platform's response: Nest pipes it with backpressure on Express
    // and Fastify alike, and destroys it (no more pages read) when the client goes away
    return new StreamableFile(csv.stream, {
      type: 'text/csv; charset=utf-8',
      disposition: contentDisposition(csv.fileName),
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

  @Post(':id/waitlist/close')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'The end of the day for the waitlist: cancels every registration still waitlisted on the date, in one ' +
      'transaction (history action waitlist_closed, the staff member as actor); each household gets its ' +
      'registration event and a notification. No counter moves. A second call closes nothing. Role: staff or admin.',
  })
  @ApiOkResponse({ type: CloseWaitlistResponse })
  @ApiErrors({
    SERVICE_UNAVAILABLE:
      'a registration on the waitlist is being promoted at this moment, or one cut off by a crash awaits recovery (Retry-After); nothing was closed',
  })
  async closeWaitlist(
    @Param('id') id: string,
    @CurrentUser() user: AuthUser,
  ): Promise<{ closed: string[] }> {
    return { closed: await this.dates.closeWaitlist(dateId(id), user.sub) };
  }

  @Put(':id/settings')
  @ApiOperation({
    summary:
      "Changes the date's waitlist settings and capacity unit; omitted fields keep their value. Role: staff or admin. " +
      'Never moves a counter and never promotes: enabling the waitlist or raising its limit lets more join, ' +
      'lowering it keeps who already waits. The unit changes only while the date has no active registration.',
  })
  @ApiOkResponse({ type: SettingsResponse })
  @ApiErrors(BODY_ERRORS, {
    INVALID_STATE: 'the unit changes while the date has active registrations',
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
