import { DomainError } from '../common/domain-error';
import { MAX_MEMBERS } from './household.dto';
import type { MemberChange, MemberRow, NewMember } from './household.repository';

// Rules about a household as a whole, kept pure: the repository applies what they decide
// under a lock on the household.

export const memberNotFound = (): DomainError =>
  new DomainError('MEMBER_NOT_FOUND', 'No such member in your household');

function activeHead(members: MemberRow[], except?: string): MemberRow | undefined {
  return members.find((m) => m.isActive && m.isHeadOfHousehold && m.id !== except);
}

function findOwn(members: MemberRow[], memberId: string): MemberRow {
  const member = members.find((m) => m.id === memberId);
  if (!member) throw memberNotFound();
  return member;
}

export function decideAdd(members: MemberRow[], input: NewMember): MemberChange[] {
  if (members.filter((m) => m.isActive).length >= MAX_MEMBERS) {
    throw new DomainError('INVALID_STATE', `A household has at most ${MAX_MEMBERS} active members`);
  }
  const head = activeHead(members);
  if (input.isHeadOfHousehold && head) {
    throw new DomainError('INVALID_STATE', 'The household already has a head of household', {
      details: {
        headMemberId: head.id,
      },
    });
  }
  return [{ kind: 'insert', member: input }];
}

export function decideUpdate(
  members: MemberRow[],
  memberId: string,
  fields: Partial<NewMember>,
): MemberChange[] {
  const member = findOwn(members, memberId);
  if (!member.isActive)
    throw new DomainError('INVALID_STATE', 'A removed member cannot be changed');
  const head = activeHead(members, memberId);
  if (fields.isHeadOfHousehold === true && head) {
    throw new DomainError('INVALID_STATE', 'The household already has a head of household', {
      details: {
        headMemberId: head.id,
      },
    });
  }
  return [{ kind: 'update', id: memberId, fields }];
}

/** Removing marks the member inactive (it stays on past registrations); removing twice is a no-op. */
export function decideRemove(members: MemberRow[], memberId: string): MemberChange[] {
  const member = findOwn(members, memberId);
  if (!member.isActive) return [];
  if (members.filter((m) => m.isActive).length === 1) {
    throw new DomainError(
      'INVALID_STATE',
      'The last active member of a household cannot be removed',
    );
  }
  return [{ kind: 'update', id: memberId, fields: { isActive: false, isHeadOfHousehold: false } }];
}
