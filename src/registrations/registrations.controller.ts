import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user';
import { Authenticated, CurrentUser } from '../auth/auth.guards';
import { DomainError } from '../common/domain-error';
import { pathIdOrNotFound } from '../common/ids';
import { Page } from '../common/paging';
import { Idempotent, IdempotentRequest } from '../idempotency/idempotency.interceptor';
import { ApiErrors, BODY_ERRORS, QUERY_ERRORS } from '../openapi/api-errors';
import {
  changeCommandOf,
  CREATE_ERRORS,
  CreateRegistrationDto,
  HELD_ERRORS,
  ListRegistrationsQuery,
  normalizeSpecialRequirements,
  RegistrationPage,
  RegistrationResponse,
  toIds,
  UpdateRegistrationDto,
} from './registration.dto';
import { RegistrationService } from './registration.service';
import { actorOf, RegistrationView, toView } from './registration.types';

const notFound = () => new DomainError('REGISTRATION_NOT_FOUND', 'No such registration');
const NOT_YOURS = { REGISTRATION_NOT_FOUND: 'no such id, or another household’s registration' };

@ApiTags('registrations')
@Authenticated()
@Idempotent()
@Controller('api/v1/registrations')
export class RegistrationsController {
  constructor(private readonly registrations: RegistrationService) {}

  @Post()
  @ApiOperation({
    summary: 'Register your household for an event date or one of its slots. Role: participant.',
  })
  @ApiBody({
    type: CreateRegistrationDto,
    examples: {
      slot: {
        summary: 'A slot booking',
        value: { eventDateId: 12, eventSlotId: 345, memberIds: ['7', '8'] },
      },
      date: { summary: 'A date booking (date without slots)', value: { eventDateId: 13 } },
      noWaitlist: {
        summary: 'Refuse the waitlist (409 CAPACITY_FULL when full)',
        value: { eventDateId: 12, eventSlotId: 345, joinWaitlist: false },
      },
    },
  })
  @ApiCreatedResponse({
    type: RegistrationResponse,
    description: 'confirmed, or waitlisted with its waitlistPosition',
    content: {
      'application/json': {
        examples: {
          confirmed: {
            summary: 'Confirmed in a slot',
            value: registrationExample({ status: 'confirmed', waitlistPosition: null }),
          },
          waitlisted: {
            summary: 'Waitlisted',
            value: registrationExample({ status: 'waitlisted', waitlistPosition: 4 }),
          },
        },
      },
    },
  })
  @ApiErrors(BODY_ERRORS, CREATE_ERRORS, {
    HOUSEHOLD_NOT_FOUND: 'the account has no household yet (POST /api/v1/me/household)',
  })
  async create(
    @CurrentUser() user: AuthUser,
    @Req() request: IdempotentRequest,
    @Body() body: CreateRegistrationDto,
  ): Promise<RegistrationView> {
    const householdId = await this.registrations.householdOf(user.sub);
    return this.registrations.register(
      {
        ...body,
        householdId,
        memberIds: toIds(body.memberIds),
        specialRequirements: normalizeSpecialRequirements(body.specialRequirements),
      },
      actorOf(user, request, 'participant'),
    );
  }

  @Get()
  @ApiOperation({ summary: "Your household's registrations, newest first. Role: participant." })
  @ApiOkResponse({ type: RegistrationPage })
  @ApiErrors(QUERY_ERRORS, { HOUSEHOLD_NOT_FOUND: 'the account has no household yet' })
  async list(
    @CurrentUser() user: AuthUser,
    @Query() query: ListRegistrationsQuery,
  ): Promise<Page<RegistrationView>> {
    const householdId = await this.registrations.householdOf(user.sub);
    return this.registrations.list(householdId, query.status, query.page, query.pageSize);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One of your registrations. Role: participant.' })
  @ApiOkResponse({ type: RegistrationResponse })
  @ApiErrors(NOT_YOURS)
  async get(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<RegistrationView> {
    const householdId = await this.ownHousehold(user);
    return toView(await this.registrations.get(pathIdOrNotFound(id, notFound), householdId));
  }

  @Patch(':id')
  @ApiOperation({
    summary:
      'Change the party, move to another slot of the same date and/or change the special requirements, ' +
      'all or nothing. Role: participant.',
  })
  @ApiBody({
    type: UpdateRegistrationDto,
    examples: {
      move: { summary: 'Move to another slot', value: { eventSlotId: 346 } },
      requirements: {
        summary: 'Only the special requirements (no counter moves)',
        value: { specialRequirements: 'wheelchair access' },
      },
      clear: { summary: 'Clear the special requirements', value: { specialRequirements: null } },
    },
  })
  @ApiOkResponse({ type: RegistrationResponse })
  @ApiErrors(BODY_ERRORS, NOT_YOURS, HELD_ERRORS, {
    VALIDATION_FAILED:
      'neither memberIds, eventSlotId nor specialRequirements given, or specialRequirements over 500 characters or with control characters',
    MEMBER_NOT_IN_HOUSEHOLD: 'a member of another household',
    MEMBER_NOT_FOUND: 'a member removed from the household',
    EVENT_SLOT_NOT_FOUND: 'the slot is not on the same date, or is inactive',
    SLOT_NOT_ALLOWED: 'the date has no slots',
    CAPACITY_FULL: 'no room for the change; nothing was changed',
    INVALID_STATE: 'the registration is cancelled or checked in',
    RESERVATIONS_CLOSED: 'the date no longer takes changes',
  })
  async update(
    @CurrentUser() user: AuthUser,
    @Req() request: IdempotentRequest,
    @Param('id') id: string,
    @Body() body: UpdateRegistrationDto,
  ): Promise<RegistrationView> {
    const registrationId = pathIdOrNotFound(id, notFound);
    const command = changeCommandOf(body);
    const householdId = await this.ownHousehold(user);
    return this.registrations.change(
      registrationId,
      householdId,
      command,
      actorOf(user, request, 'participant'),
    );
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Cancel; the freed room promotes the waitlist. Cancelling again returns it unchanged. Role: participant.',
  })
  @ApiOkResponse({ type: RegistrationResponse })
  @ApiErrors(NOT_YOURS, HELD_ERRORS, {
    INVALID_STATE: 'the registration is checked in',
  })
  async cancel(
    @CurrentUser() user: AuthUser,
    @Req() request: IdempotentRequest,
    @Param('id') id: string,
  ): Promise<RegistrationView> {
    const registrationId = pathIdOrNotFound(id, notFound);
    const householdId = await this.ownHousehold(user);
    return this.registrations.cancel(
      registrationId,
      householdId,
      actorOf(user, request, 'participant'),
    );
  }

  // no household yet means no registration can be yours
  private async ownHousehold(user: AuthUser): Promise<string> {
    try {
      return await this.registrations.householdOf(user.sub);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'HOUSEHOLD_NOT_FOUND') throw notFound();
      throw error;
    }
  }
}

function registrationExample(overrides: Partial<RegistrationView>): RegistrationView {
  return {
    id: '901',
    householdId: '55',
    eventId: 3,
    eventDateId: 12,
    eventHourId: 40,
    eventSlotId: 345,
    status: 'confirmed',
    waitlistPosition: null,
    memberIds: ['7', '8'],
    partySize: 2,
    spots: 1,
    createdAt: '2026-11-22T09:00:00.000Z',
    updatedAt: '2026-11-22T09:00:00.000Z',
    cancelledAt: null,
    checkedInAt: null,
    specialRequirements: null,
    ...overrides,
  };
}
