import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { DomainEvents } from '../common/domain-events';
import { Page } from '../common/paging';
import { Attempt, retryWhileBusy } from '../common/retry';
import { HouseholdRepository } from '../households/household.repository';
import { MetricsService } from '../metrics/metrics.service';
import { bookingLevel, findSlot, isBookable, isVisible } from '../schedule/schedule.rules';
import { ScheduleRepository } from '../schedule/schedule.repository';
import type { CounterTarget, ScheduleDate } from '../schedule/schedule.types';
import { DateSettingsRepository } from './date-settings.repository';
import { announce } from './registration.events';
import { RegistrationRepository } from './registration.repository';
import { RegistrationBatch } from './saga/registration.batch';
import { RegistrationSaga } from './saga/registration.saga';
import { changeFull, registrationFull } from './saga/saga.errors';
import {
  Actor,
  Registration,
  RegistrationStatus,
  RegistrationView,
  toView,
} from './registration.types';
import { SpecialRequirementsRepository } from './special-requirements.repository';

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

// The registration rules of the contract. SQL lives in the repositories, the two-database
// choreography in RegistrationSaga, run per event date in batches by RegistrationBatch; this
// class decides what is allowed and in which order.
@Injectable()
export class RegistrationService {
  constructor(
    private readonly registrations: RegistrationRepository,
    private readonly requirements: SpecialRequirementsRepository,
    private readonly settings: DateSettingsRepository,
    private readonly households: HouseholdRepository,
    private readonly schedule: ScheduleRepository,
    private readonly batch: RegistrationBatch,
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
    let answer: Awaited<ReturnType<RegistrationBatch['register']>>;
    try {
      answer = await this.batch.register(
        {
          householdId: command.householdId,
          eventId: date.eventId,
          target,
          partySize: memberIds.length,
          spots,
          memberIds,
          joinWaitlist: command.joinWaitlist ?? true,
          specialRequirements: command.specialRequirements ?? null,
          actor: actor.sub,
          idempotencyScope: actor.idempotencyScope,
        },
        settings,
      );
    } catch (error) {
      const code = error instanceof DomainError ? error.code.toLowerCase() : 'failed';
      this.metrics.registrationOutcome(code);
      throw error;
    }
    const { registration, outcome } = answer;
    this.metrics.registrationOutcome(outcome === 'full' ? 'capacity_full' : outcome);
    if (outcome === 'full') throw registrationFull();
    announce(
      this.events,
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
    return this.onFreshRead(id, householdId, async (registration) => {
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
        const value = await this.changeRequirements(
          registration,
          command.specialRequirements ?? null,
          actor,
        );
        return { kind: 'done', value };
      }
      const slotId = command.eventSlotId ?? registration.eventSlotId ?? undefined;
      const target = this.targetOf(date, slotId);
      const memberIds = command.memberIds
        ? await this.partyOf(registration.householdId, command.memberIds)
        : registration.memberIds;
      const settings = await this.settings.find(registration.eventDateId);
      const spots = settings.capacityUnit === 'person' ? memberIds.length : 1;
      const result = await this.batch.change({
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
      if (result.kind === 'busy') return result;
      if (result.kind === 'full') throw changeFull();
      // the batch has promoted into whatever the change freed; a change is read back (it is
      // not on the rush's path, and its saga may have moved members, slot and spots at once)
      const updated = await this.mustFind(id);
      announce(
        this.events,
        updated,
        updated.eventSlotId !== registration.eventSlotId ? 'moved' : 'resized',
      );
      return { kind: 'done', value: toView(updated) };
    });
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
    return this.onFreshRead(id, householdId, async (registration) => {
      if (registration.status === 'cancelled') return { kind: 'done', value: toView(registration) };
      if (registration.status === 'checked_in') {
        throw new DomainError('INVALID_STATE', 'A checked-in registration cannot be cancelled');
      }
      // a pending registration is still in its register saga
      if (registration.status === 'pending') return { kind: 'busy' };
      const result = await this.batch.cancel(registration, actor.sub, actor.idempotencyScope);
      if (result === 'busy') return { kind: 'busy' };
      // the batch promoted into the freed seat before answering: the same operation
      announce(this.events, result, 'cancelled');
      return { kind: 'done', value: toView(result) };
    });
  }

  // Runs `attempt` on a fresh read of the registration until no other saga holds it (a change
  // meanwhile makes it busy too); then gives up with busy, timed by the holder last seen.
  private onFreshRead(
    id: string,
    householdId: string | undefined,
    attempt: (registration: Registration) => Promise<Attempt<RegistrationView>>,
  ): Promise<RegistrationView> {
    let seen: Registration | undefined;
    return retryWhileBusy<RegistrationView>(
      async () => {
        seen = await this.get(id, householdId);
        return attempt(seen);
      },
      () => this.busy(seen),
    );
  }

  /**
   * Another operation holds the registration (we waited for it briefly): 503 with Retry-After,
   * never a 409. INVALID_STATE is final in the contract (a checked-in registration cannot be
   * cancelled), and a client would stop at it; this one is "try again", and once the holder
   * finishes (or recovery settles a holder that died) the same request succeeds.
   */
  async busy(registration: Pick<Registration, 'pendingSagaId'> | undefined): Promise<DomainError> {
    return new DomainError(
      'SERVICE_UNAVAILABLE',
      'The registration is being changed by another request; retry shortly',
      { retryAfterSeconds: await this.saga.retryAfterSeconds(registration?.pendingSagaId ?? null) },
    );
  }

  /**
   * Confirms the oldest waitlisted registrations of a date that fit now (first fit: a party too
   * large for the room is passed over), as part of the date's next batch.
   */
  async promoteDate(eventDateId: number, actor: string): Promise<string[]> {
    return this.batch.promoteDate(eventDateId, actor);
  }

  // ---- pieces -------------------------------------------------------------------------------

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
}

function notFound(): DomainError {
  return new DomainError('REGISTRATION_NOT_FOUND', 'No such registration');
}
