import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error';
import { PRIVATE_DB } from '../database/database.constants';
import { privateTransaction } from '../database/sql';
import { isDuplicateKey, translatePrivateError } from '../database/db-errors';

export interface MemberRow {
  id: string;
  householdId: string;
  firstName: string;
  lastName: string;
  dateOfBirth: string;
  isHeadOfHousehold: boolean;
  isActive: boolean;
}

interface RawMember {
  id: string;
  household_id: string;
  first_name: string;
  last_name: string;
  date_of_birth: string;
  is_head_of_household: number;
  is_active: number;
}

export interface NewMember {
  firstName: string;
  lastName: string;
  dateOfBirth: string;
  isHeadOfHousehold: boolean;
}

export type MemberChange =
  | { kind: 'insert'; member: NewMember }
  | { kind: 'update'; id: string; fields: Partial<NewMember & { isActive: boolean }> };

const COLUMN: Record<keyof (NewMember & { isActive: boolean }), string> = {
  firstName: 'first_name',
  lastName: 'last_name',
  dateOfBirth: 'date_of_birth',
  isHeadOfHousehold: 'is_head_of_household',
  isActive: 'is_active',
};

export function toMember(row: RawMember): MemberRow {
  return {
    id: String(row.id),
    householdId: String(row.household_id),
    firstName: row.first_name,
    lastName: row.last_name,
    dateOfBirth: row.date_of_birth,
    isHeadOfHousehold: Number(row.is_head_of_household) === 1,
    isActive: Number(row.is_active) === 1,
  };
}

@Injectable()
export class HouseholdRepository {
  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  async householdIdOfAccount(sub: string): Promise<string | undefined> {
    return translatePrivateError(async () => {
      const rows = await this.db.query<{ household_id: string | null }[]>(
        'SELECT household_id FROM accounts WHERE sub = ?',
        [sub],
      );
      const id = rows[0]?.household_id;
      return id === null || id === undefined ? undefined : String(id);
    });
  }

  async householdExists(householdId: string): Promise<boolean> {
    return translatePrivateError(async () => {
      const rows = await this.db.query<unknown[]>('SELECT 1 FROM households WHERE id = ?', [
        householdId,
      ]);
      return rows.length > 0;
    });
  }

  async members(householdId: string): Promise<MemberRow[]> {
    return translatePrivateError(async () => {
      const rows = await this.db.query<RawMember[]>(
        'SELECT * FROM household_members WHERE household_id = ? ORDER BY id',
        [householdId],
      );
      return rows.map(toMember);
    });
  }

  /** Members by id, whatever their household: the caller checks ownership. */
  async membersById(ids: string[]): Promise<MemberRow[]> {
    if (ids.length === 0) return [];
    return translatePrivateError(async () => {
      const rows = await this.db.query<RawMember[]>(
        'SELECT * FROM household_members WHERE id IN (?)',
        [ids],
      );
      return rows.map(toMember);
    });
  }

  /**
   * A new household with its members, in one transaction. With `linkSub`, the account `sub` is
   * linked to it; an account already linked to a household is HOUSEHOLD_EXISTS.
   */
  async createHousehold(input: {
    createdBy: string;
    linkSub?: string;
    members: NewMember[];
  }): Promise<string> {
    return this.transaction(async (manager) => {
      const sub = input.linkSub;
      if (sub !== undefined) {
        // creates or locks the account row first, so a concurrent create for the same sub waits
        // here and then sees the household this one linked
        await manager.query(
          'INSERT INTO accounts (sub) VALUES (?) ON DUPLICATE KEY UPDATE sub = sub',
          [sub],
        );
        const rows = await manager.query<{ household_id: string | null }[]>(
          'SELECT household_id FROM accounts WHERE sub = ? FOR UPDATE',
          [sub],
        );
        const linked = rows[0]?.household_id;
        if (linked !== null && linked !== undefined) throw householdExists();
      }
      const result = await manager.query<{ insertId: number | string }>(
        'INSERT INTO households (created_by) VALUES (?)',
        [input.createdBy],
      );
      const householdId = String(result.insertId);
      await insertMembers(manager, householdId, input.members);
      if (sub !== undefined) {
        await manager.query('UPDATE accounts SET household_id = ? WHERE sub = ?', [
          householdId,
          sub,
        ]);
      }
      return householdId;
    }).catch((error: unknown) => {
      if (isDuplicateKey(error, 'uq_accounts')) throw householdExists();
      throw error;
    });
  }

  /**
   * Locks the household, hands its members to `decide` and applies the changes it returns, all
   * in one transaction: rules about the whole household (one head, at most 20 active members)
   * cannot be broken by two concurrent requests. `decide` may throw to change nothing.
   * Returns the members afterwards, or undefined when the household does not exist.
   */
  async changeMembers(
    householdId: string,
    decide: (members: MemberRow[]) => MemberChange[],
  ): Promise<{ members: MemberRow[]; insertedIds: string[] } | undefined> {
    return this.transaction(async (manager) => {
      const household = await manager.query<unknown[]>(
        'SELECT id FROM households WHERE id = ? FOR UPDATE',
        [householdId],
      );
      if (household.length === 0) return undefined;
      const before = await selectMembers(manager, householdId);
      const insertedIds: string[] = [];
      for (const change of decide(before)) {
        if (change.kind === 'insert') {
          insertedIds.push(...(await insertMembers(manager, householdId, [change.member])));
          continue;
        }
        const entries = Object.entries(change.fields).filter(([, v]) => v !== undefined) as [
          keyof typeof COLUMN,
          string | boolean,
        ][];
        if (entries.length === 0) continue;
        await manager.query(
          `UPDATE household_members SET ${entries.map(([k]) => `${COLUMN[k]} = ?`).join(', ')}
            WHERE id = ? AND household_id = ?`,
          [...entries.map(([, v]) => v), change.id, householdId],
        );
      }
      return { members: await selectMembers(manager, householdId), insertedIds };
    });
  }

  private async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return privateTransaction(this.db, work);
  }
}

function householdExists(): DomainError {
  return new DomainError('HOUSEHOLD_EXISTS', 'This account already has a household');
}

async function selectMembers(manager: EntityManager, householdId: string): Promise<MemberRow[]> {
  const rows = await manager.query<RawMember[]>(
    'SELECT * FROM household_members WHERE household_id = ? ORDER BY id',
    [householdId],
  );
  return rows.map(toMember);
}

async function insertMembers(
  manager: EntityManager,
  householdId: string,
  members: NewMember[],
): Promise<string[]> {
  const ids: string[] = [];
  // one row at a time: the ids of a multi-row insert are not guaranteed to be consecutive
  for (const m of members) {
    const result = await manager.query<{ insertId: number | string }>(
      `INSERT INTO household_members (household_id, first_name, last_name, date_of_birth, is_head_of_household)
       VALUES (?, ?, ?, ?, ?)`,
      [householdId, m.firstName, m.lastName, m.dateOfBirth, m.isHeadOfHousehold],
    );
    ids.push(String(result.insertId));
  }
  return ids;
}
