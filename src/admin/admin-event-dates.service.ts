import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { DomainEvents } from '../common/domain-events';
import { Page } from '../common/paging';
import { retryWhileBusy } from '../common/retry';
import { dateKeyToIso, todayKey } from '../common/time';
import { SettingsPatch } from '../registrations/date-settings.repository';
import { RegistrationRepository } from '../registrations/registration.repository';
import { RegistrationService } from '../registrations/registration.service';
import {
  DateSettings,
  RegistrationStatus,
  RegistrationView,
  toView,
} from '../registrations/registration.types';
import { ScheduleRepository } from '../schedule/schedule.repository';
import type { ScheduleDate } from '../schedule/schedule.types';
import { WaitlistRepository } from '../registrations/waitlist.repository';
import { AdminRepository, ClosedRegistration, ExportCursor, ExportOrder } from './admin.repository';
import { ageGroups, AgeGroups, median } from './admin.rules';
import {
  csvCells,
  csvColumns,
  csvHeader,
  exportFileName,
  exportTimeZone,
} from './registrations-csv';

export interface AdminRegistrationView extends RegistrationView {
  household: { id: string; members: { id: string; firstName: string; lastName: string }[] };
}

export interface DateStats {
  eventDateId: number;
  capacity: number;
  reserved: number;
  confirmed: number;
  waitlisted: number;
  cancelled: number;
  waitlistClosed: number;
  checkedIn: number;
  noShows: number;
  promotions: number;
  waitlistConversion: number | null;
  medianWaitSeconds: number | null;
  peopleServed: number;
  peopleServedByAge: AgeGroups;
}

export const CSV_CHUNK = 500;
// busy retries of the waitlist close, 50 ms apart, before it answers 503 with Retry-After
const CLOSE_RETRIES = 40;

/** The export, ready to send: its file name and the CSV bytes, produced as they are read. */
export interface CsvExport {
  fileName: { ascii: string; utf8: string };
  stream: Readable;
}

interface Times {
  startTime: string | null;
  endTime: string | null;
}

// Staff views of one event date. Staff see any date that exists in the schedule, published or
// not, active or not: they prepare dates before publishing them and look back after.
@Injectable()
export class AdminEventDatesService {
  constructor(
    private readonly schedule: ScheduleRepository,
    private readonly registrations: RegistrationRepository,
    private readonly registrationService: RegistrationService,
    private readonly admin: AdminRepository,
    private readonly waitlists: WaitlistRepository,
    private readonly events: DomainEvents,
  ) {}

  async list(
    eventDateId: number,
    filter: { status?: RegistrationStatus; slotId?: number },
    page: number,
    pageSize: number,
  ): Promise<Page<AdminRegistrationView>> {
    await this.mustFindDate(eventDateId);
    const { items, total } = await this.registrations.listForDate(
      eventDateId,
      { status: filter.status, eventSlotId: filter.slotId },
      (page - 1) * pageSize,
      pageSize,
    );
    const householdIds = [...new Set(items.map((r) => r.householdId))];
    const names = await this.admin.memberNames(
      householdIds,
      items.flatMap((r) => r.memberIds),
    );
    return {
      items: items.map((r) => {
        const onIt = new Set(r.memberIds);
        return {
          ...toView(r),
          household: {
            id: r.householdId,
            members: names
              .filter((m) => m.householdId === r.householdId && (m.isActive || onIt.has(m.id)))
              .map((m) => ({ id: m.id, firstName: m.firstName, lastName: m.lastName })),
          },
        };
      }),
      total,
      page,
      pageSize,
    };
  }

  /**
   * The CSV export: the header, then the registrations read CSV_CHUNK at a time (keyset, in
   * the order staff work, see AdminRepository.exportPage), each page read only when the
   * client has taken the previous one, so a large date is never held in memory. Rows reflect
   * the moment their page was read. The date is checked before anything is produced, so an
   * unknown date is still a plain 404. csv-stringify writes the BOM (spreadsheets then read
   * UTF-8 names right), RFC 4180 quoting with CRLF, and escapes formulas: a cell starting with
   * = + - @ tab or CR gets a leading ' (OWASP CSV injection), the name still readable.
   */
  async exportCsv(eventDateId: number): Promise<CsvExport> {
    const date = await this.mustFindDate(eventDateId);
    const day = dateKeyToIso(date.dateKey);
    const times = timesBySlot(date);
    const columns = csvColumns({
      eventName: date.eventName,
      date: day,
      timeZone: exportTimeZone(date.timeZone),
      timesOf: (r) => {
        const t =
          r.eventSlotId === null
            ? { startTime: date.startTime, endTime: date.endTime }
            : times.get(r.eventSlotId);
        return { start: t?.startTime ?? null, end: t?.endTime ?? null };
      },
    });
    const order = exportOrder(date);
    const admin = this.admin;
    async function* records(): AsyncGenerator<(string | null)[]> {
      let after: ExportCursor | undefined;
      do {
        const page = await admin.exportPage(eventDateId, order, after, CSV_CHUNK);
        for (const row of page.rows) yield csvCells(columns, row);
        after = page.next;
      } while (after);
    }
    const stringifier = stringify({
      bom: true,
      header: true,
      columns: csvHeader(columns),
      record_delimiter: 'windows',
      escape_formulas: true,
    });
    // pipeline destroys both streams when either fails or the client goes away
    const stream = pipeline(Readable.from(records()), stringifier, () => undefined);
    return { fileName: exportFileName(date.eventName, day), stream };
  }

  /** Every waitlisted registration of the date, by slot start time and then position. */
  async waitlist(eventDateId: number): Promise<RegistrationView[]> {
    const date = await this.mustFindDate(eventDateId);
    const times = timesBySlot(date);
    const startOf = (slotId: number | null) =>
      slotId === null ? '' : (times.get(slotId)?.startTime ?? '~');
    const waiting = await this.waitlists.ofDate(eventDateId);
    return waiting
      .sort(
        (a, b) =>
          startOf(a.eventSlotId).localeCompare(startOf(b.eventSlotId)) ||
          (a.eventSlotId ?? 0) - (b.eventSlotId ?? 0) ||
          (a.waitlistPosition ?? 0) - (b.waitlistPosition ?? 0),
      )
      .map(toView);
  }

  async promote(eventDateId: number, actor: string): Promise<string[]> {
    await this.mustFindDate(eventDateId);
    return this.registrationService.promoteDate(eventDateId, actor);
  }

  /**
   * Closes the date's waitlist (AdminRepository.closeWaitlist), waiting out a promotion that
   * holds one of its registrations at that moment. Each household hears of it in real time;
   * the outbox rows were written with the change. Nothing waits any more: a second call closes
   * nothing. Households that join the waitlist afterwards wait again (closing does not disable
   * it: settings do that).
   */
  async closeWaitlist(eventDateId: number, actor: string): Promise<string[]> {
    await this.mustFindDate(eventDateId);
    let holderSagaId: string | null = null;
    const closed = await retryWhileBusy<ClosedRegistration[]>(
      async () => {
        const attempt = await this.admin.closeWaitlist(eventDateId, actor);
        if (attempt.kind === 'busy') holderSagaId = attempt.holderSagaId;
        return attempt;
      },
      // a promotion holds a registration for one counter update; recovery, a crashed one, longer
      () => this.registrationService.busy({ pendingSagaId: holderSagaId }),
      { retries: CLOSE_RETRIES },
    );
    const at = new Date();
    for (const r of closed) {
      this.events.emit({
        type: 'registration',
        registrationId: r.id,
        householdId: r.householdId,
        eventDateId,
        eventSlotId: r.eventSlotId,
        status: 'cancelled',
        waitlistPosition: null,
        action: 'waitlist_closed',
        at,
      });
    }
    // the waitlist lengths shown with the date's availability changed
    if (closed.length > 0) this.events.emit({ type: 'availability', eventDateId, at });
    return closed.map((r) => r.id);
  }

  /**
   * Changing settings never moves a counter and never promotes or removes anyone: enabling the
   * waitlist or raising its limit only lets more join; lowering it keeps who is already waiting.
   */
  async updateSettings(eventDateId: number, patch: SettingsPatch): Promise<DateSettings> {
    await this.mustFindDate(eventDateId);
    const settings = await this.admin.updateSettings(eventDateId, patch);
    // the date's public view shows the unit and whether its waitlist is open
    this.events.emit({ type: 'availability', eventDateId, at: new Date() });
    return settings;
  }

  async stats(eventDateId: number, now: Date = new Date()): Promise<DateStats> {
    const date = await this.mustFindDate(eventDateId);
    const f = await this.admin.figures(eventDateId);
    const count = (status: RegistrationStatus) => f.byStatus[status] ?? 0;
    const passed = date.dateKey < todayKey(now);
    return {
      eventDateId,
      capacity: date.capacity,
      reserved: date.reserved,
      confirmed: count('confirmed'),
      waitlisted: count('waitlisted'),
      cancelled: count('cancelled'),
      waitlistClosed: f.waitlistClosed,
      checkedIn: count('checked_in'),
      noShows: passed ? count('confirmed') : 0,
      promotions: f.promotions,
      waitlistConversion:
        f.everWaitlisted === 0 ? null : round(f.waitlistedThenConfirmed / f.everWaitlisted),
      medianWaitSeconds: median(f.waitSeconds),
      peopleServed: f.servedBirthDates.length,
      peopleServedByAge: ageGroups(f.servedBirthDates, dateKeyToIso(date.dateKey)),
    };
  }

  async mustFindDate(eventDateId: number): Promise<ScheduleDate> {
    const date = await this.schedule.findDate(eventDateId);
    if (!date) throw new DomainError('EVENT_DATE_NOT_FOUND', 'No such event date');
    return date;
  }
}

/** Slots ranked by start time (equal times share a rank); a slotless booking by the date's start. */
function exportOrder(date: ScheduleDate): ExportOrder {
  const slots = date.hours.flatMap((h) => h.slots);
  const starts = [
    ...new Set([...slots.map((s) => s.startTime ?? '~'), date.startTime ?? '~']),
  ].sort();
  const rank = (start: string | null) => starts.indexOf(start ?? '~');
  return {
    slot: new Map(slots.map((s) => [s.id, rank(s.startTime)])),
    dateLevel: rank(date.startTime),
    // a slot no longer in the schedule has no time to sort by: last
    other: starts.length,
  };
}

function timesBySlot(date: ScheduleDate): Map<number, Times> {
  const map = new Map<number, Times>();
  for (const hour of date.hours) for (const slot of hour.slots) map.set(slot.id, slot);
  return map;
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
