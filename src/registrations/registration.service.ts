import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { DomainEvents, RegistrationAction, RegistrationChanged } from '../common/domain-events';
import { Page } from '../common/paging';
import { HouseholdRepository } from '../households/household.repository';
import { MetricsService } from '../metrics/metrics.service';
import { countersOf, PublicCounterRepository } from '../schedule/public-counter.repository';
import { bookingLevel, findSlot, isBookable, isVisible } from '../schedule/schedule.rules';
import { ScheduleRepository } from '../schedule/schedule.repository';
import type { CounterTarget, ScheduleDate } from '../schedule/schedule.types';
import { DateSettingsRepository } from './date-settings.repository';
import { RegistrationRepository } from './registration.repository';
import { changeFull, registrationFull } from './saga/saga.errors';
import { RegistrationSaga } from './saga/registration.saga';
import {
  Actor,
  Registration,
  RegistrationStatus,
  RegistrationView,
  toView,
} from './registration.types';
import { SpecialRequirementsRepository } from './special-requirements.repository';
import { WaitlistRepository } from './waitlist.repository';

export interface RegisterCommand {
  householdId: string;
  eventDateId: number;
  eventSlotId?: number;
  memberIds?: string[];
  joinWaitlist?: boolean;
  /** already normalised: trimmed, null for none */
  specialRequirements?: string | null;
}

export interface ChangeCommand {
  memberIds?: string[];
  eventSlotId?: number;
  /** undefined: unchanged; null: cleared (already normalised) */
  specialRequirements?: string | null;
}

const BUSY_RETRIES = 20;

// The registration rules of the contract. SQL lives in the repositories, the two-database
// choreography in RegistrationSaga; this class decides what is allowed and in which order.
@Injectable()
export class RegistrationService {
  private readonly logger = new Logger(RegistrationService.name);

  constructor(
    private readonly registrations: RegistrationRepository,
    private readonly waitlist: WaitlistRepository,
    private readonly requirements: SpecialRequirementsRepository,
    private readonly settings: DateSettingsRepository,
    private readonly households: HouseholdRepository,
    private readonly schedule: ScheduleRepository,
    private readonly counters: PublicCounterRepository,
    private readonly saga: RegistrationSaga,
    private readonly events: DomainEvents,
    private readonly metrics: MetricsService,
  ) {}

  /** The household linked to a participant's account. */
  async householdOf(sub: string): Promise<string> {
    const householdId = await this.households.householdIdOfAccount(sub);
    if (!householdId) throw new DomainError('HOUSEHOLD_NOT_FOUND', 'Create your household first');
    return householdId;
  }

  async register(command: RegisterCommand, actor: Actor): Promise<RegistrationView> {
    const date = await this.bookableDate(command.eventDateId);
    const target = this.targetOf(date, command.eventSlotId);
    const memberIds = await this.partyOf(command.householdId, command.memberIds);
    const settings = await this.settings.find(date.id);
    const spots = settings.capacityUnit === 'person' ? memberIds.length : 1;

    const joinWaitlist = command.joinWaitlist ?? true;
    // Seats freed by a cancel belong to the queue: a newcomer who would queue joins behind it
    // (and is seated at once by the first-fit promotion below if the queue cannot use the room).
    // One who declines the waitlist lets the queue go first, then tries for what is left.
    const queueBehind =
      settings.waitlistEnabled &&
      (await this.waitlist.hasWaitlist(target.eventDateId, target.eventSlotId));
    if (queueBehind && !joinWaitlist) await this.promoteTarget(target, actor.sub);
    const { registrationId, outcome } = await this.registerThroughSaga({
      queueBehind,
      householdId: command.householdId,
      eventId: date.eventId,
      target,
      partySize: memberIds.length,
      spots,
      memberIds,
      joinWaitlist,
      specialRequirements: command.specialRequirements ?? null,
      actor: actor.sub,
      idempotencyScope: actor.idempotencyScope,
    });
    this.metrics.registrationOutcome(outcome === 'full' ? 'capacity_full' : outcome);
    if (outcome === 'full') {
      throw registrationFull();
    }
    if (outcome === 'waitlisted') {
      // room may have appeared between our failed take and joining the queue
      await this.promoteTarget(target, actor.sub).catch((error: unknown) => {
        this.logger.warn(
          { eventDateId: target.eventDateId, err: String(error) },
          'promotion deferred',
        );
      });
    }
    const registration = await this.mustFind(registrationId);
    this.announce(
      registration,
      outcome === 'confirmed'
        ? 'confirmed'
        : registration.status === 'confirmed'
          ? 'promoted'
          : 'waitlisted',
    );
    return toView(registration);
  }

  async list(
    householdId: string,
    status: RegistrationStatus | undefined,
    page: number,
    pageSize: number,
  ): Promise<Page<RegistrationView>> {
    const { items, total } = await this.registrations.listForHousehold(
      householdId,
      status,
      (page - 1) * pageSize,
      pageSize,
    );
    return { items: items.map(toView), total, page, pageSize };
  }

  /** One registration; another household's is exactly as absent as a missing one. */
  async get(id: string, householdId: string | undefined): Promise<Registration> {
    const registration = await this.registrations.findById(id);
    if (!registration || registration.status === 'failed') throw notFound();
    if (householdId !== undefined && registration.householdId !== householdId) throw notFound();
    return registration;
  }

  async change(
    id: string,
    householdId: string | undefined,
    command: ChangeCommand,
    actor: Actor,
  ): Promise<RegistrationView> {
    for (let attempt = 0; ; attempt++) {
      const registration = await this.get(id, householdId);
      if (registration.status !== 'confirmed' && registration.status !== 'waitlisted') {
        throw new DomainError(
          'INVALID_STATE',
          `A ${registration.status} registration cannot be changed`,
        );
      }
      const date = await this.visibleDate(registration.eventDateId);
      if (!isBookable(date))
        throw new DomainError('RESERVATIONS_CLOSED', 'This date no longer takes changes');
      if (command.memberIds === undefined && command.eventSlotId === undefined) {
        return this.changeRequirements(registration, command.specialRequirements ?? null, actor);
      }
      const slotId = command.eventSlotId ?? registration.eventSlotId ?? undefined;
      const target = this.targetOf(date, slotId);
      const memberIds = command.memberIds
        ? await this.partyOf(registration.householdId, command.memberIds)
        : registration.memberIds;
      const settings = await this.settings.find(registration.eventDateId);
      const spots = settings.capacityUnit === 'person' ? memberIds.length : 1;
      const result = await this.saga.change({
        registration,
        plan: {
          eventHourId: target.eventHourId,
          eventSlotId: target.eventSlotId,
          partySize: memberIds.length,
          spots,
          memberIds,
          specialRequirements: command.specialRequirements,
        },
        actor: actor.sub,
        idempotencyScope: actor.idempotencyScope,
      });
      if (result === 'busy') {
        if (attempt >= BUSY_RETRIES) throw busy();
        await pause(50);
        continue;
      }
      if (result === 'full') throw changeFull();
      const old: CounterTarget = {
        eventDateId: registration.eventDateId,
        eventHourId: registration.eventHourId,
        eventSlotId: registration.eventSlotId,
      };
      await this.afterRelease(
        old,
        actor.sub,
        registration.status === 'waitlisted' && old.eventSlotId !== target.eventSlotId,
      );
      const updated = await this.mustFind(id);
      this.announce(
        updated,
        updated.eventSlotId !== registration.eventSlotId ? 'moved' : 'resized',
      );
      return toView(updated);
    }
  }

  // Only the text: no counter, no saga, no event (nobody else needs to know; the text itself is
  // never broadcast). One private transaction writes it and a history row without it.
  private async changeRequirements(
    registration: Registration,
    text: string | null,
    actor: Actor,
  ): Promise<RegistrationView> {
    const outcome = await this.requirements.change(registration.id, text, actor.sub);
    if (outcome === 'refused') {
      throw new DomainError('INVALID_STATE', 'This registration can no longer be changed');
    }
    return toView(await this.mustFind(registration.id));
  }

  async cancel(
    id: string,
    householdId: string | undefined,
    actor: Actor,
  ): Promise<RegistrationView> {
    for (let attempt = 0; ; attempt++) {
      const registration = await this.get(id, householdId);
      if (registration.status === 'cancelled') return toView(registration);
      if (registration.status === 'checked_in') {
        throw new DomainError('INVALID_STATE', 'A checked-in registration cannot be cancelled');
      }
      const result =
        registration.status === 'pending'
          ? 'busy'
          : await this.saga.cancel(registration, actor.sub, actor.idempotencyScope);
      if (result === 'busy') {
        if (attempt >= BUSY_RETRIES) throw busy();
        await pause(50);
        continue;
      }
      const target: CounterTarget = registration;
      await this.afterRelease(target, actor.sub, registration.status === 'waitlisted');
      const cancelled = await this.mustFind(id);
      this.announce(cancelled, 'cancelled');
      return toView(cancelled);
    }
  }

  /**
   * Confirms the oldest waitlisted registrations of a date that fit now (first fit: a party too
   * large for the room is passed over). The freed target first, then the date's other queues.
   */
  async promoteDate(eventDateId: number, actor: string, first?: CounterTarget): Promise<string[]> {
    const promoted: string[] = [];
    if (first) promoted.push(...(await this.promoteTarget(first, actor)));
    // only the queues that exist: a cancel must not walk every slot of the date
    for (const target of await this.waitlist.targets(eventDateId)) {
      if (first && target.eventSlotId === first.eventSlotId) continue;
      promoted.push(...(await this.promoteTarget(target, actor)));
    }
    return promoted;
  }

  async promoteTarget(target: CounterTarget, actor: string): Promise<string[]> {
    const promoted: string[] = [];
    for (let round = 0; round < 100; round++) {
      const rows = await this.counters.read(countersOf(target));
      let room = Math.min(...rows.map((c) => c.capacity - c.reserved));
      if (!Number.isFinite(room) || room <= 0) break;
      const candidates = await this.waitlist.candidates(target.eventDateId, target.eventSlotId, 50);
      let progressed = false;
      for (const candidate of candidates) {
        if (candidate.spots > room) continue;
        if (await this.saga.promote(candidate.id, candidate.spots, target, actor)) {
          promoted.push(candidate.id);
          room -= candidate.spots;
          progressed = true;
        }
        if (room <= 0) break;
      }
      if (!progressed) break;
    }
    if (promoted.length > 0) this.metrics.waitlistPromotions(promoted.length);
    for (const id of promoted) {
      const registration = await this.registrations.findById(id);
      if (registration) this.announce(registration, 'promoted');
    }
    if (promoted.length > 0) await this.announcePositions(target);
    return promoted;
  }

  // ---- pieces -------------------------------------------------------------------------------

  private async registerThroughSaga(input: Parameters<RegistrationSaga['register']>[0]) {
    try {
      return await this.saga.register(input);
    } catch (error) {
      const code = error instanceof DomainError ? error.code.toLowerCase() : 'failed';
      this.metrics.registrationOutcome(code);
      throw error;
    }
  }

  // The change itself has committed; promotion is best effort here (a failure, e.g. the schedule
  // going away, is logged) because recovery promotes again after it settles the counters.
  private async afterRelease(
    target: CounterTarget,
    actor: string,
    leftWaitlist: boolean,
  ): Promise<void> {
    try {
      const promoted = await this.promoteDate(target.eventDateId, actor, target);
      if (leftWaitlist && promoted.length === 0) await this.announcePositions(target);
    } catch (error) {
      this.logger.warn(
        { eventDateId: target.eventDateId, err: String(error) },
        'promotion after release deferred',
      );
    }
  }

  private async visibleDate(eventDateId: number): Promise<ScheduleDate> {
    const date = await this.schedule.findDate(eventDateId);
    if (!date || !isVisible(date))
      throw new DomainError('EVENT_DATE_NOT_FOUND', 'No such event date');
    return date;
  }

  private async bookableDate(eventDateId: number): Promise<ScheduleDate> {
    const date = await this.visibleDate(eventDateId);
    if (!isBookable(date))
      throw new DomainError('RESERVATIONS_CLOSED', 'This date does not take registrations');
    return date;
  }

  private targetOf(date: ScheduleDate, eventSlotId: number | undefined): CounterTarget {
    if (bookingLevel(date) === 'date') {
      if (eventSlotId !== undefined) {
        throw new DomainError(
          'SLOT_NOT_ALLOWED',
          'This date is booked as a whole; do not name a slot',
        );
      }
      return { eventDateId: date.id, eventHourId: null, eventSlotId: null };
    }
    if (eventSlotId === undefined)
      throw new DomainError('SLOT_REQUIRED', 'This date is booked by time slot');
    const slot = findSlot(date, eventSlotId);
    if (!slot) throw new DomainError('EVENT_SLOT_NOT_FOUND', 'No such slot on this date');
    return { eventDateId: date.id, eventHourId: slot.hourId, eventSlotId: slot.id };
  }

  /** The party: the given members (all of this household, active) or every active member. */
  private async partyOf(householdId: string, memberIds: string[] | undefined): Promise<string[]> {
    if (memberIds === undefined) {
      const active = (await this.households.members(householdId))
        .filter((m) => m.isActive)
        .map((m) => m.id);
      if (active.length === 0)
        throw new DomainError('VALIDATION_FAILED', 'The household has no active members');
      return active;
    }
    const unique = [...new Set(memberIds.map(String))];
    const found = await this.households.membersById(unique);
    const byId = new Map(found.map((m) => [m.id, m]));
    for (const id of unique) {
      const member = byId.get(id);
      if (!member || member.householdId !== householdId) {
        throw new DomainError(
          'MEMBER_NOT_IN_HOUSEHOLD',
          'Every member must belong to the household',
        );
      }
      if (!member.isActive)
        throw new DomainError('MEMBER_NOT_FOUND', `Member ${id} was removed from the household`);
    }
    return unique.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  }

  private async mustFind(id: string): Promise<Registration> {
    const registration = await this.registrations.findById(id);
    if (!registration) throw notFound();
    return registration;
  }

  private announce(r: Registration, action: RegistrationAction): void {
    const at = new Date();
    this.events.emit(registrationChanged(r, action, at));
    this.events.emit({ type: 'availability', eventDateId: r.eventDateId, at });
  }

  private async announcePositions(target: CounterTarget): Promise<void> {
    const waiting = await this.waitlist.ofTarget(target.eventDateId, target.eventSlotId);
    const at = new Date();
    for (const r of waiting) this.events.emit(registrationChanged(r, 'position_changed', at));
  }
}

function registrationChanged(
  r: Registration,
  action: RegistrationAction,
  at: Date,
): RegistrationChanged {
  return {
    type: 'registration',
    registrationId: r.id,
    householdId: r.householdId,
    eventDateId: r.eventDateId,
    eventSlotId: r.eventSlotId,
    status: r.status,
    waitlistPosition: r.waitlistPosition,
    action,
    at,
  };
}

function notFound(): DomainError {
  return new DomainError('REGISTRATION_NOT_FOUND', 'No such registration');
}

function busy(): DomainError {
  return new DomainError(
    'INVALID_STATE',
    'The registration is being changed by another request; try again',
    undefined,
    1,
  );
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
