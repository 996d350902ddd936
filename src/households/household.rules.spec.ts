import { DomainError } from '../common/domain-error';
import type { MemberRow, NewMember } from './household.repository';
import { decideAdd, decideRemove, decideUpdate } from './household.rules';

const memberRow = (overrides: Partial<MemberRow> = {}): MemberRow => ({
  id: '1',
  householdId: '10',
  firstName: 'Ana',
  lastName: 'Lopez',
  dateOfBirth: '1984-03-09',
  isHeadOfHousehold: false,
  isActive: true,
  ...overrides,
});

const newMember = (overrides: Partial<NewMember> = {}): NewMember => ({
  firstName: 'Luis',
  lastName: 'Lopez',
  dateOfBirth: '2015-06-21',
  isHeadOfHousehold: false,
  ...overrides,
});

const codeOf = (work: () => unknown): string | undefined => {
  try {
    work();
    return undefined;
  } catch (error) {
    return error instanceof DomainError ? error.code : 'not a DomainError';
  }
};

describe('household rules', () => {
  it('adds a member while fewer than 20 are active, removed ones not counted', () => {
    const members = [
      ...Array.from({ length: 19 }, (_, i) => memberRow({ id: String(i + 1) })),
      memberRow({ id: '99', isActive: false }),
    ];
    expect(decideAdd(members, newMember())).toEqual([{ kind: 'insert', member: newMember() }]);
    expect(codeOf(() => decideAdd([...members, memberRow({ id: '20' })], newMember()))).toBe(
      'INVALID_STATE',
    );
  });

  it('keeps at most one active head of household', () => {
    const members = [memberRow({ id: '1', isHeadOfHousehold: true }), memberRow({ id: '2' })];
    expect(codeOf(() => decideAdd(members, newMember({ isHeadOfHousehold: true })))).toBe(
      'INVALID_STATE',
    );
    expect(codeOf(() => decideUpdate(members, '2', { isHeadOfHousehold: true }))).toBe(
      'INVALID_STATE',
    );
    // the head itself may be re-marked head, and an inactive former head does not count
    expect(codeOf(() => decideUpdate(members, '1', { isHeadOfHousehold: true }))).toBeUndefined();
    const formerHead = [
      memberRow({ id: '1', isHeadOfHousehold: true, isActive: false }),
      memberRow({ id: '2' }),
    ];
    expect(
      codeOf(() => decideUpdate(formerHead, '2', { isHeadOfHousehold: true })),
    ).toBeUndefined();
  });

  it('finds members only in the given household', () => {
    const members = [memberRow({ id: '1' }), memberRow({ id: '2' })];
    expect(codeOf(() => decideUpdate(members, '3', { firstName: 'X' }))).toBe('MEMBER_NOT_FOUND');
    expect(codeOf(() => decideRemove(members, '3'))).toBe('MEMBER_NOT_FOUND');
  });

  it('removes by deactivating, is a no-op the second time, and never removes the last active member', () => {
    const members = [memberRow({ id: '1', isHeadOfHousehold: true }), memberRow({ id: '2' })];
    expect(decideRemove(members, '1')).toEqual([
      { kind: 'update', id: '1', fields: { isActive: false, isHeadOfHousehold: false } },
    ]);
    expect(
      decideRemove([memberRow({ id: '1', isActive: false }), memberRow({ id: '2' })], '1'),
    ).toEqual([]);
    expect(
      codeOf(() =>
        decideRemove([memberRow({ id: '1' }), memberRow({ id: '2', isActive: false })], '1'),
      ),
    ).toBe('INVALID_STATE');
  });

  it('refuses to change a removed member', () => {
    const members = [memberRow({ id: '1', isActive: false }), memberRow({ id: '2' })];
    expect(codeOf(() => decideUpdate(members, '1', { firstName: 'X' }))).toBe('INVALID_STATE');
  });
});
