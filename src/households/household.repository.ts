import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';

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
      const rows = await this.db.query<unknown[]>('SELECT 1 FROM households WHERE id = ?', [householdId]);
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
      const rows = await this.db.query<RawMember[]>('SELECT * FROM household_members WHERE id IN (?)', [ids]);
      return rows.map(toMember);
    });
  }
}
