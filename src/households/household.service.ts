import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { isPrivateId } from '../common/ids';
import {
  CreateHouseholdBody,
  HouseholdView,
  MemberInput,
  MemberView,
  UpdateMemberBody,
} from './household.dto';
import { HouseholdRepository, MemberRow, NewMember } from './household.repository';
import { decideAdd, decideRemove, decideUpdate, memberNotFound } from './household.rules';

export const householdNotFound = (): DomainError =>
  new DomainError('HOUSEHOLD_NOT_FOUND', 'No such household');

function toNewMember(input: MemberInput): NewMember {
  return {
    firstName: input.firstName,
    lastName: input.lastName,
    dateOfBirth: input.dateOfBirth,
    isHeadOfHousehold: input.isHeadOfHousehold ?? false,
  };
}

export function toMemberView(m: MemberRow): MemberView {
  return {
    id: m.id,
    firstName: m.firstName,
    lastName: m.lastName,
    dateOfBirth: m.dateOfBirth,
    isHeadOfHousehold: m.isHeadOfHousehold,
    isActive: m.isActive,
  };
}

@Injectable()
export class HouseholdService {
  constructor(private readonly households: HouseholdRepository) {}

  /** A participant's own household, linked to their account. */
  async createForAccount(sub: string, body: CreateHouseholdBody): Promise<HouseholdView> {
    const id = await this.households.createHousehold({
      createdBy: sub,
      linkSub: sub,
      members: body.members.map(toNewMember),
    });
    return this.view(id);
  }

  /** A walk-in household registered by staff: no account is linked to it. */
  async createWalkIn(staffSub: string, body: CreateHouseholdBody): Promise<HouseholdView> {
    const id = await this.households.createHousehold({
      createdBy: staffSub,
      members: body.members.map(toNewMember),
    });
    return this.view(id);
  }

  async getMine(sub: string): Promise<HouseholdView> {
    return this.view(await this.householdOf(sub));
  }

  async getById(id: string): Promise<HouseholdView> {
    if (!isPrivateId(id) || !(await this.households.householdExists(id))) throw householdNotFound();
    return this.view(id);
  }

  async addMember(sub: string, input: MemberInput): Promise<MemberView> {
    const householdId = await this.householdOf(sub);
    const result = await this.households.changeMembers(householdId, (members) =>
      decideAdd(members, toNewMember(input)),
    );
    const added = result?.members.find((m) => m.id === result.insertedIds[0]);
    if (!added) throw householdNotFound();
    return toMemberView(added);
  }

  async updateMember(sub: string, memberId: string, body: UpdateMemberBody): Promise<MemberView> {
    const fields: Partial<NewMember> = {
      firstName: body.firstName,
      lastName: body.lastName,
      dateOfBirth: body.dateOfBirth,
      isHeadOfHousehold: body.isHeadOfHousehold,
    };
    if (Object.values(fields).every((v) => v === undefined)) {
      throw new DomainError('VALIDATION_FAILED', 'The request is not valid', {
        details: [{ field: 'body', problems: ['name at least one field to change'] }],
      });
    }
    return this.changeOne(sub, memberId, (members) => decideUpdate(members, memberId, fields));
  }

  async removeMember(sub: string, memberId: string): Promise<MemberView> {
    return this.changeOne(sub, memberId, (members) => decideRemove(members, memberId));
  }

  private async changeOne(
    sub: string,
    memberId: string,
    decide: Parameters<HouseholdRepository['changeMembers']>[1],
  ): Promise<MemberView> {
    const householdId = await this.householdOf(sub);
    if (!isPrivateId(memberId)) throw memberNotFound();
    const result = await this.households.changeMembers(householdId, decide);
    const member = result?.members.find((m) => m.id === memberId);
    if (!member) throw memberNotFound();
    return toMemberView(member);
  }

  private async householdOf(sub: string): Promise<string> {
    const id = await this.households.householdIdOfAccount(sub);
    if (id === undefined)
      throw new DomainError('HOUSEHOLD_NOT_FOUND', 'This account has no household yet');
    return id;
  }

  private async view(householdId: string): Promise<HouseholdView> {
    const members = await this.households.members(householdId);
    return { id: householdId, members: members.map(toMemberView) };
  }
}
