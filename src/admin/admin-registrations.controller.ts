import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser, StaffOnly } from '../auth/auth.guards';
import { DomainError } from '../common/domain-error';
import { pathIdOrNotFound } from '../common/ids';
import { iso } from '../common/time';
import { Idempotent, IdempotentRequest } from '../idempotency/idempotency.interceptor';
import { ApiErrors, BODY_ERRORS } from '../openapi/api-errors';
import {
  CREATE_ERRORS,
  HELD_ERRORS,
  normalizeSpecialRequirements,
  RegistrationResponse,
  toIds,
} from '../registrations/registration.dto';
import { actorOf, RegistrationView } from '../registrations/registration.types';
import { AdminRegistrationsService } from './admin-registrations.service';
import {
  AdminCreateRegistrationDto,
  BulkRegistrationDto,
  BulkResponse,
  BulkResult,
  CheckInDto,
  HistoryItem,
  HistoryResponse,
} from './admin.dto';

const notFound = () => new DomainError('REGISTRATION_NOT_FOUND', 'No such registration');
export const ALREADY_CHECKED_IN_HEADER = 'X-Already-Checked-In';

// a sample check-in: the scan's own time, a few minutes after the slot opened
const checkedInExample: RegistrationView = {
  id: '901',
  householdId: '55',
  eventId: 3,
  eventDateId: 12,
  eventHourId: 40,
  eventSlotId: 345,
  status: 'checked_in',
  waitlistPosition: null,
  memberIds: ['7', '8'],
  partySize: 2,
  spots: 1,
  createdAt: '2026-11-22T09:00:00.000Z',
  updatedAt: '2026-12-01T14:12:05.000Z',
  cancelledAt: null,
  checkedInAt: '2026-12-01T14:12:00.000Z',
  specialRequirements: null,
};

@ApiTags('admin: registrations')
@StaffOnly()
@Idempotent()
@Controller('api/v1/admin/registrations')
export class AdminRegistrationsController {
  constructor(private readonly registrations: AdminRegistrationsService) {}

  @Post()
  @ApiOperation({
    summary:
      "Registers a household on its behalf: the participant rules and saga, recorded as the staff member's act. Role: staff or admin.",
  })
  @ApiBody({
    type: AdminCreateRegistrationDto,
    examples: {
      slot: {
        summary: 'A slot booking',
        value: { householdId: '55', eventDateId: 12, eventSlotId: 345 },
      },
      date: {
        summary: 'A date booking (date without slots)',
        value: { householdId: '55', eventDateId: 13 },
      },
    },
  })
  @ApiCreatedResponse({ type: RegistrationResponse })
  @ApiErrors(BODY_ERRORS, CREATE_ERRORS, { HOUSEHOLD_NOT_FOUND: 'no household with this id' })
  create(
    @CurrentUser() user: AuthUser,
    @Req() request: IdempotentRequest,
    @Body() body: AdminCreateRegistrationDto,
  ): Promise<RegistrationView> {
    return this.registrations.register(
      {
        householdId: String(body.householdId),
        eventDateId: body.eventDateId,
        eventSlotId: body.eventSlotId,
        memberIds: toIds(body.memberIds),
        joinWaitlist: body.joinWaitlist,
        specialRequirements: normalizeSpecialRequirements(body.specialRequirements),
      },
      actorOf(user, request, 'staff'),
    );
  }

  @Post('bulk')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Registers up to 200 households for one date or slot, one result each, in order. With allOrNothing, ' +
      'the first failure undoes every registration made by the request. Role: staff or admin.',
  })
  @ApiBody({
    type: BulkRegistrationDto,
    examples: {
      slot: {
        summary: 'Three households in a slot',
        value: { eventDateId: 12, eventSlotId: 345, householdIds: ['55', '56', '57'] },
      },
      allOrNothing: {
        summary: 'All or nothing, date booking',
        value: { eventDateId: 13, householdIds: ['55', '56'], allOrNothing: true },
      },
    },
  })
  @ApiOkResponse({ type: BulkResponse })
  @ApiErrors(BODY_ERRORS, {
    VALIDATION_FAILED: '0 or more than 200 households, or a duplicate id',
  })
  async bulk(
    @CurrentUser() user: AuthUser,
    @Req() request: IdempotentRequest,
    @Body() body: BulkRegistrationDto,
  ): Promise<{ results: BulkResult[] }> {
    const results = await this.registrations.bulk(
      {
        eventDateId: body.eventDateId,
        eventSlotId: body.eventSlotId,
        householdIds: body.householdIds.map(String),
        allOrNothing: body.allOrNothing ?? false,
      },
      actorOf(user, request, 'staff'),
    );
    return { results };
  }

  @Post(':id/check-in')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Checks a confirmed registration in; counters do not move (it keeps its spots). Checking in again changes ' +
      `nothing and answers with ${ALREADY_CHECKED_IN_HEADER}: true. The history entry is stamped when it was recorded; ` +
      `checkedInAt carries the scan's own time. Role: staff or admin.`,
  })
  @ApiParam({ name: 'id', example: '901' })
  @ApiOkResponse({
    type: RegistrationResponse,
    description: 'Checked in, now or by an earlier scan',
    headers: {
      [ALREADY_CHECKED_IN_HEADER]: {
        description: 'true when it was already checked in and nothing changed, else false',
        schema: { type: 'string', enum: ['true', 'false'], example: 'false' },
      },
    },
    example: checkedInExample,
  })
  @ApiErrors(BODY_ERRORS, HELD_ERRORS, {
    VALIDATION_FAILED: "also a checkedInAt not on the event's day, or in the future",
    REGISTRATION_NOT_FOUND: 'no such registration',
    MEMBER_NOT_IN_HOUSEHOLD: 'a member who is not on the registration',
    INVALID_STATE: 'not confirmed (or already checked in)',
  })
  async checkIn(
    @CurrentUser() user: AuthUser,
    @Req() request: IdempotentRequest,
    @Param('id') id: string,
    @Body() body: CheckInDto,
    @Res({ passthrough: true }) response: FastifyReply,
  ): Promise<RegistrationView> {
    const result = await this.registrations.checkIn(
      pathIdOrNotFound(id, notFound),
      {
        memberIds: toIds(body.memberIds),
        checkedInAt: body.checkedInAt ? new Date(body.checkedInAt) : undefined,
      },
      actorOf(user, request, 'staff'),
    );
    void response.header(ALREADY_CHECKED_IN_HEADER, String(result.alreadyCheckedIn));
    return result.registration;
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Cancels any household's registration, recorded as the staff member's act; the freed room promotes the waitlist. Role: staff or admin.",
  })
  @ApiParam({ name: 'id', example: '901' })
  @ApiOkResponse({ type: RegistrationResponse })
  @ApiErrors(HELD_ERRORS, {
    REGISTRATION_NOT_FOUND: 'no such registration',
    INVALID_STATE: 'the registration is checked in',
  })
  cancel(
    @CurrentUser() user: AuthUser,
    @Req() request: IdempotentRequest,
    @Param('id') id: string,
  ): Promise<RegistrationView> {
    return this.registrations.cancel(
      pathIdOrNotFound(id, notFound),
      actorOf(user, request, 'staff'),
    );
  }

  @Get(':id/history')
  @ApiOperation({
    summary: "A registration's history (audit), oldest first. Role: staff or admin.",
  })
  @ApiParam({ name: 'id', example: '901' })
  @ApiOkResponse({ type: HistoryResponse })
  @ApiErrors({ REGISTRATION_NOT_FOUND: 'no such registration' })
  async history(@Param('id') id: string): Promise<{ items: HistoryItem[] }> {
    const rows = await this.registrations.history(pathIdOrNotFound(id, notFound));
    return { items: rows.map((r) => ({ ...r, at: iso(r.at) ?? '' })) };
  }
}
