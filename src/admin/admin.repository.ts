import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error';
import { PRIVATE_DB } from '../database/database.constants';
import { translatePrivateError } from '../database/db-errors';
import { privateTransaction } from '../database/sql';
import { NotificationOutboxRepository } from '../notifications/notification-outbox.repository';
import { DateSettingsRepository, SettingsPatch } from '../registrations/date-settings.repository';
import { RegistrationHistoryRepository } from '../registrations/registration-history.repository';
import { RegistrationRepository } from '../registrations/registration.repository';
import { WaitlistRepository } from '../registrations/waitlist.repository';
import {
  DateSettings,
  Registration,
  RegistrationStatus,
} from '../registrations/registration.types';

export interface MemberName {
  id: string;
  householdId: string;
  firstName: string;
  lastName: string;
  isActive: boolean;
}

/** One registration of the CSV export, with the names of the members on it. */
export interface ExportRow {
  id: string;
  status: RegistrationStatus;
  householdId: string;
  eventSlotId: number | null;
  partySize: number;
  spots: number;
  createdAt: Date;
  cancelledAt: Date | null;
  checkedInAt: Date | null;
  specialRequirements: string | null;
  waitlistPosition: number | null;
  /** the member the row is sorted by: the head of household when on it, else the first */
  lead: { firstName: string; lastName: string } | null;
  members: { id: string; firstName: string; lastName: string }[];
}

/** Sort ranks of the export: slots by start time; equal start times share a rank. */
export interface ExportOrder {
  slot: Map<number, number>;
  dateLevel: number;
  other: number;
}

/** Where the previous export page ended. */
export interface ExportCursor {
  rank: number;
  lastName: string;
  firstName: string;
  id: string;
}

/** A registration the end-of-day close cancelled. */
export interface ClosedRegistration {
  id: string;
  householdId: string;
  eventSlotId: number | null;
}

export interface DateFigures {
  byStatus: Partial<Record<RegistrationStatus, number>>;
  promotions: number;
  /** registrations cancelled by closing the waitlist (they are also in byStatus.cancelled) */
  waitlistClosed: number;
  everWaitlisted: number;
  waitlistedThenConfirmed: number;
  waitSeconds: number[];
  /** dates of birth of the members checked in */
  servedBirthDates: string[];
}

// The staff tools' own reads of the private database (lists, export, figures), and their
// writes: each one private transaction composed from the repositories of the tables it touches.
// Registration rows in the API shape come from RegistrationRepository; this one reads around them.
@Injectable()
export class AdminRepository {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly registrations: RegistrationRepository,
    private readonly history: RegistrationHistoryRepository,
    private readonly outbox: NotificationOutboxRepository,
    private readonly settings: DateSettingsRepository,
    private readonly waitlist: WaitlistRepository,
  ) {}

  /** The active members of these households, plus any member named in `alsoIds`. */
  async memberNames(householdIds: string[], alsoIds: string[]): Promise<MemberName[]> {
    if (householdIds.length === 0) return [];
    const rows = await translatePrivateError(() =>
      this.db.query<
        {
          id: string;
          household_id: string;
          first_name: string;
          last_name: string;
          is_active: number;
        }[]
      >(
        `SELECT id, household_id, first_name, last_name, is_active FROM household_members
          WHERE household_id IN (?) AND (is_active = 1 OR id IN (?)) ORDER BY household_id, id`,
        [householdIds, alsoIds.length > 0 ? alsoIds : [0]],
      ),
    );
    return rows.map((r) => ({
      id: String(r.id),
      householdId: String(r.household_id),
      firstName: r.first_name,
      lastName: r.last_name,
      isActive: Number(r.is_active) === 1,
    }));
  }

  /**
   * One page of the CSV export, in the order staff work: by slot start time (`order.slot`
   * gives each slot's rank; `order.dateLevel` is the rank of registrations without a slot,
   * `order.other` that of slots no longer in the schedule), then the lead's last and first
   * name, then id. Keyset on exactly those keys, so pages never skip or repeat a row and the
   * database is read one page at a time.
   */
  async exportPage(
    eventDateId: number,
    order: ExportOrder,
    after: ExportCursor | undefined,
    limit: number,
  ): Promise<{ rows: ExportRow[]; next: ExportCursor | undefined }> {
    return translatePrivateError(async () => {
      const ranks = [...order.slot];
      const rankCase =
        'CASE WHEN r.event_slot_id IS NULL THEN ? ' +
        ranks.map(() => 'WHEN r.event_slot_id = ? THEN ? ').join('') +
        'ELSE ? END';
      const rankParams = [
        order.dateLevel,
        ...ranks.flatMap(([slotId, rank]) => [slotId, rank]),
        order.other,
      ];
      const cursor = after ?? { rank: -1, lastName: '', firstName: '', id: '0' };
      // the lead: the head of household when on the registration, else its first member
      const rows = await this.db.query<
        {
          id: string;
          status: RegistrationStatus;
          household_id: string;
          event_slot_id: number | null;
          party_size: number;
          spots: number;
          created_at: Date;
          cancelled_at: Date | null;
          checked_in_at: Date | null;
          special_requirements: string | null;
          waitlist_position: number | string | null;
          slot_rank: number | string;
          lead_id: string | null;
          lead_last: string;
          lead_first: string;
        }[]
      >(
        `SELECT * FROM (
           SELECT r.id, r.status, r.household_id, r.event_slot_id, r.party_size, r.spots,
                  r.created_at, r.cancelled_at, r.checked_in_at, r.special_requirements,
                  IF(r.status = 'waitlisted',
                    (SELECT COUNT(*) + 1 FROM event_registrations w
                      WHERE w.event_date_id = r.event_date_id AND w.event_slot_id <=> r.event_slot_id
                        AND w.status = 'waitlisted'
                        AND (w.queued_at < r.queued_at OR (w.queued_at = r.queued_at AND w.id < r.id))),
                    NULL) AS waitlist_position,
                  ${rankCase} AS slot_rank,
                  lead.id AS lead_id,
                  COALESCE(lead.last_name, '') AS lead_last,
                  COALESCE(lead.first_name, '') AS lead_first
             FROM event_registrations r
             LEFT JOIN household_members lead ON lead.id = (
               SELECT rm.member_id FROM event_registration_members rm
                 JOIN household_members hm ON hm.id = rm.member_id
                WHERE rm.registration_id = r.id
                ORDER BY hm.is_head_of_household DESC, hm.id LIMIT 1)
            WHERE r.event_date_id = ? AND r.status <> 'failed'
         ) t
         WHERE (t.slot_rank, t.lead_last, t.lead_first, t.id) > (?, ?, ?, ?)
         ORDER BY t.slot_rank, t.lead_last, t.lead_first, t.id
         LIMIT ?`,
        [
          ...rankParams,
          eventDateId,
          cursor.rank,
          cursor.lastName,
          cursor.firstName,
          cursor.id,
          limit,
        ],
      );
      if (rows.length === 0) return { rows: [], next: undefined };
      const members = await this.db.query<
        { registration_id: string; id: string; first_name: string; last_name: string }[]
      >(
        `SELECT rm.registration_id, hm.id, hm.first_name, hm.last_name
           FROM event_registration_members rm JOIN household_members hm ON hm.id = rm.member_id
          WHERE rm.registration_id IN (?) ORDER BY rm.registration_id, hm.id`,
        [rows.map((r) => r.id)],
      );
      const byRegistration = new Map<string, ExportRow['members']>();
      for (const m of members) {
        const list = byRegistration.get(String(m.registration_id)) ?? [];
        list.push({ id: String(m.id), firstName: m.first_name, lastName: m.last_name });
        byRegistration.set(String(m.registration_id), list);
      }
      const last = rows[rows.length - 1];
      return {
        rows: rows.map((r) => ({
          id: String(r.id),
          status: r.status,
          householdId: String(r.household_id),
          eventSlotId: r.event_slot_id,
          partySize: r.party_size,
          spots: r.spots,
          createdAt: r.created_at,
          cancelledAt: r.cancelled_at,
          checkedInAt: r.checked_in_at,
          specialRequirements: r.special_requirements,
          waitlistPosition: r.waitlist_position === null ? null : Number(r.waitlist_position),
          lead: r.lead_id === null ? null : { firstName: r.lead_first, lastName: r.lead_last },
          members: byRegistration.get(String(r.id)) ?? [],
        })),
        next:
          rows.length < limit
            ? undefined
            : {
                rank: Number(last.slot_rank),
                lastName: last.lead_last,
                firstName: last.lead_first,
                id: String(last.id),
              },
      };
    });
  }

  /** The private figures behind a date's statistics. */
  async figures(eventDateId: number): Promise<DateFigures> {
    return translatePrivateError(async () => {
      const statuses = await this.db.query<{ status: RegistrationStatus; n: string }[]>(
        'SELECT status, COUNT(*) AS n FROM event_registrations WHERE event_date_id = ? GROUP BY status',
        [eventDateId],
      );
      // per registration ever waitlisted: when it joined, when it was first promoted (if ever)
      // and whether it ever went from waitlisted to confirmed (a promotion, or a move into a seat)
      const waits = await this.db.query<
        { waitlisted_at: Date; promoted_at: Date | null; confirmed: number | string }[]
      >(
        `SELECT MIN(IF(h.to_status = 'waitlisted', h.at, NULL)) AS waitlisted_at,
                MIN(IF(h.action = 'promoted', h.at, NULL)) AS promoted_at,
                MAX(h.from_status = 'waitlisted' AND h.to_status = 'confirmed') AS confirmed
           FROM registration_history h
          WHERE h.event_date_id = ?
          GROUP BY h.registration_id
         HAVING waitlisted_at IS NOT NULL`,
        [eventDateId],
      );
      const [{ promotions, closed }] = await this.db.query<
        { promotions: string; closed: string }[]
      >(
        `SELECT COUNT(IF(action = 'promoted', 1, NULL)) AS promotions,
                COUNT(DISTINCT IF(action = 'waitlist_closed', registration_id, NULL)) AS closed
           FROM registration_history WHERE event_date_id = ? AND action IN ('promoted', 'waitlist_closed')`,
        [eventDateId],
      );
      const served = await this.db.query<{ date_of_birth: string }[]>(
        `SELECT hm.date_of_birth FROM event_registrations r
           JOIN event_registration_members rm ON rm.registration_id = r.id AND rm.checked_in = 1
           JOIN household_members hm ON hm.id = rm.member_id
          WHERE r.event_date_id = ? AND r.status = 'checked_in'`,
        [eventDateId],
      );
      const byStatus: DateFigures['byStatus'] = {};
      for (const s of statuses) byStatus[s.status] = Number(s.n);
      return {
        byStatus,
        promotions: Number(promotions),
        waitlistClosed: Number(closed),
        everWaitlisted: waits.length,
        waitlistedThenConfirmed: waits.filter((w) => Number(w.confirmed) === 1).length,
        waitSeconds: waits
          .filter((w) => w.promoted_at !== null)
          .map((w) => ((w.promoted_at as Date).getTime() - w.waitlisted_at.getTime()) / 1000),
        servedBirthDates: served.map((s) => String(s.date_of_birth)),
      };
    });
  }

  /**
   * Applies a settings change in one transaction under the settings row lock (created with
   * the defaults first). The capacity unit changes only while the date has no active
   * registration: INVALID_STATE otherwise. Returns the settings afterwards.
   * Known gap: a registration reads the unit without this lock, so one that read the old unit
   * just before this commits is still written with spots in the old unit (its counters stay
   * consistent: it gives back exactly the spots it took).
   */
  async updateSettings(eventDateId: number, patch: SettingsPatch): Promise<DateSettings> {
    return privateTransaction(this.db, async (m) => {
      const current = await this.settings.lock(m, eventDateId);
      if (patch.capacityUnit !== undefined && patch.capacityUnit !== current.capacityUnit) {
        // a locking read: registrations inserted for the date wait until this commits
        const n = await this.registrations.countActiveLocked(m, eventDateId);
        if (n > 0) {
          throw new DomainError(
            'INVALID_STATE',
            'The capacity unit can change only while the date has no active registrations',
            { details: { activeRegistrations: n } },
          );
        }
      }
      await this.settings.update(m, eventDateId, patch);
      return this.settings.lock(m, eventDateId);
    });
  }

  /**
   * The end of the day for a date's waitlist: every registration waitlisted now becomes
   * cancelled, each with its history row (`waitlist_closed`, the staff member as actor) and an
   * outbox notification, in ONE transaction. No counter moves: a waitlisted registration holds
   * no seat.
   *
   * A promotion (or a move into a seat) racing with this is fenced the way the saga fences
   * itself: a saga claims a waitlisted row by setting pending_saga_id (on status and version)
   * before it takes a seat, and finishes only through updates fenced on that id. The rows are
   * locked here, so a claim either committed first (pending_saga_id is set: 'busy', nothing is
   * written, and the caller tries again once that saga has confirmed the registration or put it
   * back) or waits for this commit and then matches nothing (no seat is taken). Either way a
   * registration ends promoted or closed, never both, and none is left waiting.
   */
  async closeWaitlist(
    eventDateId: number,
    actor: string,
  ): Promise<
    { kind: 'done'; value: ClosedRegistration[] } | { kind: 'busy'; holderSagaId: string }
  > {
    return privateTransaction(this.db, async (m) => {
      const waiting = await this.waitlist.lockOfDate(m, eventDateId);
      const holderSagaId = waiting.find((r) => r.pendingSagaId !== null)?.pendingSagaId;
      if (holderSagaId) return { kind: 'busy' as const, holderSagaId };
      const closed = await this.registrations.markWaitlistClosed(
        m,
        waiting.map((r) => r.id),
      );
      if (closed !== waiting.length) throw new Error('waitlist close: a locked row changed');
      for (const r of waiting) {
        await this.history.record(
          m,
          { registrationId: r.id, eventDateId, actor },
          {
            action: 'waitlist_closed',
            fromStatus: 'waitlisted',
            toStatus: 'cancelled',
            spots: r.spots,
            eventSlotId: r.eventSlotId,
          },
          'waitlisted',
        );
        await this.outbox.enqueue(m, r.id, 'waitlist_closed');
      }
      return {
        kind: 'done' as const,
        value: waiting.map((r) => ({
          id: r.id,
          householdId: r.householdId,
          eventSlotId: r.eventSlotId,
        })),
      };
    });
  }

  /**
   * Check-in: a confirmed registration no saga holds becomes checked_in, with its members and
   * history, in one transaction. Spots stay held, so no counter moves. False when the
   * registration is not (or no longer) confirmed, or a saga holds it.
   */
  async checkIn(input: {
    registration: Registration;
    memberIds: string[];
    checkedInAt: Date;
    actor: string;
  }): Promise<boolean> {
    const r = input.registration;
    return privateTransaction(this.db, async (m) => {
      if (!(await this.registrations.markCheckedIn(m, r.id, input.memberIds, input.checkedInAt)))
        return false;
      await this.history.record(
        m,
        { registrationId: r.id, eventDateId: r.eventDateId, actor: input.actor },
        {
          action: 'checked_in',
          fromStatus: 'confirmed',
          toStatus: 'checked_in',
          spots: r.spots,
          eventSlotId: r.eventSlotId,
        },
        'confirmed',
      );
      return true;
    });
  }

  /**
   * Removes a cancelled registration with its members and history (an all-or-nothing bulk
   * registration being undone). Only once every saga of it has finished, so recovery never
   * looks for it; its saga rows stay as the record of the counter moves. Its notifications go
   * too unless one was already sent or is being sent: then all stay, so the household also
   * hears of the cancel. False when it is not in that state.
   */
  async purgeCancelled(registrationId: string): Promise<boolean> {
    return privateTransaction(this.db, async (m) => {
      if (!(await this.registrations.lockPurgeable(m, registrationId))) return false;
      await this.outbox.deleteUntouched(m, registrationId);
      await this.history.deleteFor(m, registrationId);
      await this.registrations.deleteWithMembers(m, registrationId);
      return true;
    });
  }
}
