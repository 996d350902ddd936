// The registrations CSV, shaped for the check-in table: pure pieces, unit-tested beside this
// file. Writing and quoting are csv-stringify's (see admin-event-dates.service.ts).
import type { ExportRow } from './admin.repository';

/** What every row of one export shares: the event, its day and its clock. */
export interface CsvContext {
  eventName: string;
  /** YYYY-MM-DD */
  date: string;
  /** the IANA zone every time is written in */
  timeZone: string;
  /** slot start and end (local wall-clock "HH:MM", as the schedule stores them) */
  timesOf(row: ExportRow): { start: string | null; end: string | null };
}

type Cell = string | number | null;

interface CsvColumn {
  header: string;
  value(row: ExportRow): Cell;
}

/**
 * The schedule's `events.time_zone` when it is a zone this runtime knows; otherwise UTC. The
 * schedule's owner fills it with IANA names (America/New_York) and leaves '' when unknown:
 * rather than guess a pantry's zone, the export then says "(UTC)" in every time header.
 */
export function exportTimeZone(stored: string): string {
  const zone = stored.trim();
  if (zone === '') return 'UTC';
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return 'UTC';
  }
}

/** An instant as the event's wall clock reads it: "YYYY-MM-DD HH:MM:SS". */
export function localTimeFormatter(timeZone: string): (at: Date | null) => string | null {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  return (at) => {
    if (at === null) return null;
    const p = Object.fromEntries(format.formatToParts(at).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  };
}

/**
 * The columns, in order. One figure per column; names are "Last name"/"First name" of the
 * registration's lead (its head of household when on it, else its first member), which is
 * also the sort order within a slot, and "Members" lists everyone on it.
 */
export function csvColumns(ctx: CsvContext): CsvColumn[] {
  const local = localTimeFormatter(ctx.timeZone);
  const zone = `(${ctx.timeZone})`;
  return [
    { header: 'Event', value: () => ctx.eventName },
    { header: 'Date', value: () => ctx.date },
    { header: `Slot start ${zone}`, value: (r) => ctx.timesOf(r).start },
    { header: `Slot end ${zone}`, value: (r) => ctx.timesOf(r).end },
    { header: 'Last name', value: (r) => r.lead?.lastName ?? null },
    { header: 'First name', value: (r) => r.lead?.firstName ?? null },
    {
      header: 'Members',
      value: (r) => r.members.map((m) => `${m.firstName} ${m.lastName}`).join('; '),
    },
    { header: 'Status', value: (r) => r.status },
    { header: 'Waitlist position', value: (r) => r.waitlistPosition },
    { header: 'Party size', value: (r) => r.partySize },
    { header: 'Spots', value: (r) => r.spots },
    {
      header: 'Checked in',
      value: (r) => (r.status === 'checked_in' || r.checkedInAt !== null ? 'yes' : 'no'),
    },
    { header: `Checked in at ${zone}`, value: (r) => local(r.checkedInAt) },
    // free text for the pantry (blank when none), beside the check-in it serves
    { header: 'Special requirements', value: (r) => r.specialRequirements },
    { header: `Registered at ${zone}`, value: (r) => local(r.createdAt) },
    { header: `Cancelled at ${zone}`, value: (r) => local(r.cancelledAt) },
    { header: 'Registration id', value: (r) => r.id },
    { header: 'Household id', value: (r) => r.householdId },
    { header: 'Slot id', value: (r) => r.eventSlotId },
    { header: 'Member ids', value: (r) => r.members.map((m) => m.id).join(';') },
  ];
}

export function csvHeader(columns: CsvColumn[]): string[] {
  return columns.map((c) => c.header);
}

/** A row as strings (null for an empty cell), so csv-stringify's formula escaping sees text. */
export function csvCells(columns: CsvColumn[], row: ExportRow): (string | null)[] {
  return columns.map((c) => {
    const v = c.value(row);
    return v === null ? null : String(v);
  });
}

/**
 * `downtown-community-pantry-2026-12-03.csv`: the event's name slugified (letters and digits of
 * any script, lower case, runs of anything else as one "-") and the date. `ascii` is the same
 * with accents dropped and other scripts removed, for the plain `filename=` parameter.
 */
export function exportFileName(eventName: string, date: string): { ascii: string; utf8: string } {
  const slug = (text: string) =>
    text
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-+|-+$/g, '');
  const unicode = slug(eventName);
  const ascii = slug(
    eventName
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .replace(/[^\x20-\x7e]/g, ' '),
  );
  return {
    ascii: `${ascii || 'event'}-${date}.csv`,
    utf8: `${unicode || 'event'}-${date}.csv`,
  };
}

/** RFC 6266: an ASCII `filename` for old clients and the UTF-8 `filename*` (RFC 8187). */
export function contentDisposition(name: { ascii: string; utf8: string }): string {
  const encoded = encodeURIComponent(name.utf8).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${name.ascii}"; filename*=UTF-8''${encoded}`;
}
