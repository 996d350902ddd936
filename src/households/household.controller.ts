import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user';
import { Authenticated, CurrentUser, StaffOnly } from '../auth/auth.guards';
import {
  CreateHouseholdBody,
  HouseholdView,
  MemberInput,
  MemberView,
  UpdateMemberBody,
} from './household.dto';
import { HouseholdService } from './household.service';
import { ApiErrors, BODY_ERRORS } from '../openapi/api-errors';
import { Idempotent } from '../idempotency/idempotency.interceptor';

@ApiTags('households')
@Authenticated()
@Idempotent()
@Controller('api/v1/me/household')
export class MyHouseholdController {
  constructor(private readonly households: HouseholdService) {}

  @Post()
  @ApiOperation({
    summary: "Creates the caller's household and links it to their account. Any signed-in role.",
  })
  @ApiCreatedResponse({ type: HouseholdView })
  @ApiErrors(BODY_ERRORS, { HOUSEHOLD_EXISTS: 'the account already has a household' })
  create(@CurrentUser() user: AuthUser, @Body() body: CreateHouseholdBody): Promise<HouseholdView> {
    return this.households.createForAccount(user.sub, body);
  }

  @Get()
  @ApiOperation({
    summary:
      "The caller's household, removed members included (isActive false). Any signed-in role.",
  })
  @ApiOkResponse({ type: HouseholdView })
  @ApiErrors({ HOUSEHOLD_NOT_FOUND: 'the account has no household yet' })
  get(@CurrentUser() user: AuthUser): Promise<HouseholdView> {
    return this.households.getMine(user.sub);
  }

  @Post('members')
  @ApiOperation({
    summary: 'Adds a member (at most 20 active, at most one head). Any signed-in role.',
  })
  @ApiCreatedResponse({ type: MemberView })
  @ApiErrors(BODY_ERRORS, {
    HOUSEHOLD_NOT_FOUND: 'the account has no household yet',
    INVALID_STATE: '20 active members already, or a second head',
  })
  addMember(@CurrentUser() user: AuthUser, @Body() body: MemberInput): Promise<MemberView> {
    return this.households.addMember(user.sub, body);
  }

  @Patch('members/:id')
  @ApiOperation({ summary: 'Changes a member of the household. Any signed-in role.' })
  @ApiParam({ name: 'id', example: '7' })
  @ApiOkResponse({ type: MemberView })
  @ApiErrors(BODY_ERRORS, {
    HOUSEHOLD_NOT_FOUND: 'the account has no household yet',
    MEMBER_NOT_FOUND: "not a member of the caller's household",
    INVALID_STATE: 'a removed member, or a second head',
  })
  updateMember(
    @CurrentUser() user: AuthUser,
    @Param('id') id: string,
    @Body() body: UpdateMemberBody,
  ): Promise<MemberView> {
    return this.households.updateMember(user.sub, id, body);
  }

  @Delete('members/:id')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Removes a member: it becomes inactive and stays on past registrations. Any signed-in role.',
  })
  @ApiParam({ name: 'id', example: '7' })
  @ApiOkResponse({ type: MemberView })
  @ApiErrors({
    HOUSEHOLD_NOT_FOUND: 'the account has no household yet',
    MEMBER_NOT_FOUND: "not a member of the caller's household",
    INVALID_STATE: 'the last active member',
  })
  removeMember(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<MemberView> {
    return this.households.removeMember(user.sub, id);
  }
}

@ApiTags('admin: households')
@StaffOnly()
@Idempotent()
@Controller('api/v1/admin/households')
export class AdminHouseholdController {
  constructor(private readonly households: HouseholdService) {}

  @Post()
  @ApiOperation({
    summary: 'Creates a walk-in household (no account linked). Role staff or admin.',
  })
  @ApiCreatedResponse({ type: HouseholdView })
  @ApiErrors(BODY_ERRORS)
  create(@CurrentUser() user: AuthUser, @Body() body: CreateHouseholdBody): Promise<HouseholdView> {
    return this.households.createWalkIn(user.sub, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Any household with its members. Role staff or admin.' })
  @ApiParam({ name: 'id', example: '55' })
  @ApiOkResponse({ type: HouseholdView })
  @ApiErrors({ HOUSEHOLD_NOT_FOUND: 'no household with this id' })
  get(@Param('id') id: string): Promise<HouseholdView> {
    return this.households.getById(id);
  }
}
