import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error';
import { isPrivateId } from '../common/ids';
import { shareReadsAcrossKeys } from '../common/shared-read';
import { PRIVATE_DB } from '../database/database.constants';
import { privateTransaction, Queryable } from '../database/sql';
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

/** Keys per shared read at most (a household has at most 20 active members). */
const MAX_SHARED_KEYS = 500;

@Injectable()
export class HouseholdRepository {
  // every request of a participant starts with its account, and a registration without named
  // members reads them: concurrent calls, whoever asks, share one statement
  private readonly accountsShared = shareReadsAcrossKeys(
    (subs: string[]) => this.householdIdsOfAccounts(subs),
    MAX_SHARED_KEYS,
  );
  private readonly membersShared = shareReadsAcrossKeys(
    (householdIds: string[]) => this.membersOfHouseholds(householdIds),
    MAX_SHARED_KEYS,
  );

  constructor(@InjectDataSource(PRIVATE_DB) private readonly db: DataSource) {}

  async householdIdOfAccount(sub: string): Promise<string | undefined> {
    return this.accountsShared(sub);
  }

  async householdExists(householdId: string): Promise<boolean> {
    return translatePrivateError(async () => {
      const rows = await this.db.query<unknown[]>('SELECT 1 FROM households WHERE id = ?', [
        householdId,
      ]);
      return rows.length > 0;
    });
  }

  /** The household's members by id, frozen: concurrent callers may share them. */
  async members(householdId: string): Promise<MemberRow[]> {
    // an id the database would convert (never one this service hands out) cannot be matched
    // to its rows by text: read alone, as before
    if (!isPrivateId(householdId)) {
      return translatePrivateError(() => selectMembers(this.db, householdId));
    }
    return this.membersShared(householdId);
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

  private async householdIdsOfAccounts(subs: string[]): Promise<(string | undefined)[]> {
    const rows = await translatePrivateError(() =>
      this.db.query<{ sub: string; household_id: string | null }[]>(
        'SELECT sub, household_id FROM accounts WHERE sub IN (?)',
        [subs],
      ),
    );
    const bySub = new Map(rows.map((row) => [row.sub, row.household_id]));
    // the column's collation may match a sub spelled otherwise (case, trailing spaces): what
    // has no row spelled exactly like it is asked alone, as before
    return Promise.all(
      subs.map(async (sub) =>
        householdIdOf(bySub.has(sub) ? bySub.get(sub) : await this.householdIdOfSubAlone(sub)),
      ),
    );
  }

  private async householdIdOfSubAlone(sub: string): Promise<string | null | undefined> {
    const rows = await translatePrivateError(() =>
      this.db.query<{ household_id: string | null }[]>(
        'SELECT household_id FROM accounts WHERE sub = ?',
        [sub],
      ),
    );
    return rows[0]?.household_id;
  }

  private async membersOfHouseholds(householdIds: string[]): Promise<MemberRow[][]> {
    const rows = await translatePrivateError(() =>
      this.db.query<RawMember[]>(
        'SELECT * FROM household_members WHERE household_id IN (?) ORDER BY household_id, id',
        [householdIds],
      ),
    );
    const byHousehold = new Map<string, MemberRow[]>(householdIds.map((id) => [id, []]));
    for (const row of rows) byHousehold.get(String(row.household_id))?.push(toMember(row));
    return householdIds.map((id) => byHousehold.get(id) ?? []);
  }

  private async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return privateTransaction(this.db, work);
  }
}

function householdIdOf(id: string | null | undefined): string | undefined {
  return id === null || id === undefined ? undefined : String(id);
}

function householdExists(): DomainError {
  return new DomainError('HOUSEHOLD_EXISTS', 'This account already has a household');
}

async function selectMembers(manager: Queryable, householdId: string): Promise<MemberRow[]> {
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
