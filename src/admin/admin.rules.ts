// Pure pieces of the staff tools, unit-tested beside this file.

export interface AgeGroups {
  children: number;
  adults: number;
  seniors: number;
}

/** Whole years from a date of birth ("YYYY-MM-DD") to a day ("YYYY-MM-DD"). */
export function ageOn(dateOfBirth: string, day: string): number {
  const [by, bm, bd] = dateOfBirth.split('-').map(Number);
  const [y, m, d] = day.split('-').map(Number);
  const hadBirthday = m > bm || (m === bm && d >= bd);
  return y - by - (hadBirthday ? 0 : 1);
}

/** children 0-17, adults 18-64, seniors 65+, by age on the event's day. */
export function ageGroups(datesOfBirth: string[], day: string): AgeGroups {
  const groups: AgeGroups = { children: 0, adults: 0, seniors: 0 };
  for (const dob of datesOfBirth) {
    const age = ageOn(dob, day);
    if (age < 18) groups.children++;
    else if (age < 65) groups.adults++;
    else groups.seniors++;
  }
  return groups;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Whether a check-in instant is acceptable: on the event's day (UTC) and not in the future.
 * A scanner's clock may run a little ahead of ours, hence `skewMs`.
 */
export function checkInTimeProblem(
  at: Date,
  eventDay: string,
  now: Date,
  skewMs = 60_000,
): string | undefined {
  if (at.getTime() > now.getTime() + skewMs) return 'checkedInAt is in the future';
  if (at.toISOString().slice(0, 10) !== eventDay)
    return `checkedInAt must be on the event's day, ${eventDay} (UTC)`;
  return undefined;
}
