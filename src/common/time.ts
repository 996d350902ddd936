// Dates are "YYYY-MM-DD" from event_date_key; instants are ISO 8601 in UTC.
export function dateKeyToIso(key: number): string {
  const s = String(key).padStart(8, '0');
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
}

export function isoToDateKey(iso: string): number {
  return Number(iso.replace(/-/g, ''));
}

export function todayKey(now: Date = new Date()): number {
  return isoToDateKey(now.toISOString().slice(0, 10));
}

// "09:15:00" (TIME from dim_times.mysql_time) -> "09:15"
export function hhmm(mysqlTime: string | null | undefined): string | null {
  if (mysqlTime === null || mysqlTime === undefined) return null;
  return String(mysqlTime).slice(0, 5);
}

export function isValidIsoDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

export function iso(value: Date | null | undefined): string | null {
  return value ? value.toISOString() : null;
}
