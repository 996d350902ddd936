import type { Connection, ResultSetHeader } from 'mysql2/promise';

export interface TestHousehold {
  id: string;
  sub: string;
  memberIds: string[];
}

let counter = 0;

/** A household linked to account `sub` with `members` active members, written straight to the private db. */
export async function createHousehold(
  sql: Connection,
  sub?: string,
  members = 2,
): Promise<TestHousehold> {
  const account =
    sub ?? `user-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const [household] = await sql.query<ResultSetHeader>(
    'INSERT INTO households (created_by) VALUES (?)',
    [account],
  );
  const id = String(household.insertId);
  await sql.query('INSERT INTO accounts (sub, household_id) VALUES (?, ?)', [account, id]);
  const memberIds: string[] = [];
  for (let i = 0; i < members; i++) {
    const [member] = await sql.query<ResultSetHeader>(
      `INSERT INTO household_members (household_id, first_name, last_name, date_of_birth, is_head_of_household)
       VALUES (?, ?, ?, ?, ?)`,
      [id, `First${i}`, `Last${id}`, i === 0 ? '1980-05-01' : '2012-03-04', i === 0 ? 1 : 0],
    );
    memberIds.push(String(member.insertId));
  }
  return { id, sub: account, memberIds };
}

/**
 * Households of the given numbers of members (a count: that many of two), created one after
 * another, so their ids ascend in that order.
 */
export async function createHouseholds(
  sql: Connection,
  sizes: number | number[],
): Promise<TestHousehold[]> {
  const households: TestHousehold[] = [];
  for (const size of typeof sizes === 'number' ? Array(sizes).fill(2) : sizes) {
    households.push(await createHousehold(sql, undefined, size));
  }
  return households;
}

/** The date counts people rather than households (its private settings, otherwise defaults). */
export async function countPeople(sql: Connection, dateId: number): Promise<void> {
  await sql.query(
    "INSERT INTO event_date_settings (event_date_id, capacity_unit) VALUES (?, 'person')",
    [dateId],
  );
}

/** Every public counter equals the spots of the confirmed/checked-in registrations under it. */
export async function counterDrift(publicSql: Connection, privateSql: Connection, dateId: number) {
  const [held] = await privateSql.query<any[]>(
    `SELECT event_slot_id, event_hour_id, spots FROM event_registrations
      WHERE event_date_id = ? AND status IN ('confirmed', 'checked_in')`,
    [dateId],
  );
  const [slots] = await publicSql.query<any[]>(
    `SELECT s.event_slot_id AS id, s.reserved, s.capacity FROM event_slots s
       JOIN event_hours h ON h.event_hour_id = s.event_hour_id WHERE h.event_date_id = ?`,
    [dateId],
  );
  const [hours] = await publicSql.query<any[]>(
    'SELECT event_hour_id AS id, reserved, capacity FROM event_hours WHERE event_date_id = ?',
    [dateId],
  );
  const [[date]] = await publicSql.query<any[]>(
    'SELECT reserved, capacity FROM event_dates WHERE event_date_id = ?',
    [dateId],
  );
  const problems: string[] = [];
  const sum = (pred: (r: any) => boolean) =>
    held.filter(pred).reduce((a: number, r: any) => a + Number(r.spots), 0);
  for (const s of slots) {
    const expected = sum((r) => r.event_slot_id === s.id);
    if (s.reserved !== expected)
      problems.push(`slot ${s.id}: reserved ${s.reserved}, expected ${expected}`);
    if (s.reserved > s.capacity) problems.push(`slot ${s.id} over capacity`);
  }
  for (const h of hours) {
    const expected = sum((r) => r.event_hour_id === h.id && r.event_slot_id !== null);
    if (h.reserved !== expected)
      problems.push(`hour ${h.id}: reserved ${h.reserved}, expected ${expected}`);
    if (h.reserved > h.capacity) problems.push(`hour ${h.id} over capacity`);
  }
  const expectedDate = sum(() => true);
  if (date.reserved !== expectedDate)
    problems.push(`date ${dateId}: reserved ${date.reserved}, expected ${expectedDate}`);
  if (date.reserved > date.capacity) problems.push(`date ${dateId} over capacity`);
  return problems;
}
