import { Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/domain-error';
import { DomainEvents } from '../common/domain-events';
import { dateKeyToIso } from '../common/time';
import { HouseholdRepository } from '../households/household.repository';
import {
  HistoryRow,
  RegistrationHistoryRepository,
} from '../registrations/registration-history.repository';
import { RegistrationRepository } from '../registrations/registration.repository';
import { RegisterCommand, RegistrationService } from '../registrations/registration.service';
import { Actor, Registration, RegistrationView, toView } from '../registrations/registration.types';
import { ScheduleRepository } from '../schedule/schedule.repository';
import { AdminRepository } from './admin.repository';
import { checkInTimeProblem } from './admin.rules';
import type { BulkResult } from './admin.dto';

export interface BulkCommand {
  eventDateId: number;
  eventSlotId?: number;
  householdIds: string[];
  allOrNothing: boolean;
}

export const ABORTED = 'ALL_OR_NOTHING_ABORTED';
const RETRIES = 20;

// Staff acts on registrations. Registering and cancelling go through RegistrationService and
// its saga, exactly as for participants, with the staff member's sub as the actor.
@Injectable()
export class AdminRegistrationsService {
  private readonly logger = new Logger(AdminRegistrationsService.name);

  constructor(
    private readonly registrationService: RegistrationService,
    private readonly registrations: RegistrationRepository,
    private readonly households: HouseholdRepository,
    private readonly schedule: ScheduleRepository,
    private readonly admin: AdminRepository,
    private readonly registrationHistory: RegistrationHistoryRepository,
    private readonly events: DomainEvents,
  ) {}

  async register(command: RegisterCommand, actor: Actor): Promise<RegistrationView> {
    await this.mustFindHousehold(command.householdId);
    return this.registrationService.register(command, actor);
  }

  /**
   * One registration per household, in order. With allOrNothing: no waitlist, and the first
   * failure undoes the registrations made so far (cancelled through the saga so their spots go
   * back, then removed) and stops. The inner registrations carry no idempotency scope: a key
   * on the bulk request answers for the whole request, not for one of its registrations.
   */
  async bulk(command: BulkCommand, actor: Actor): Promise<BulkResult[]> {
    const inner: Actor = { sub: actor.sub, isStaff: true };
    const results: BulkResult[] = [];
    for (const [index, householdId] of command.householdIds.entries()) {
      try {
        const registration = await this.register(
          {
            householdId,
            eventDateId: command.eventDateId,
            eventSlotId: command.eventSlotId,
            joinWaitlist: command.allOrNothing ? false : undefined,
          },
          inner,
        );
        results.push({
          householdId,
          status: registration.status === 'waitlisted' ? 'waitlisted' : 'confirmed',
          registration,
          error: null,
        });
      } catch (error) {
        results.push({
          householdId,
          status: 'failed',
          registration: null,
          error: this.errorOf(error, householdId),
        });
        if (command.allOrNothing) {
          await this.undo(results, inner);
          for (const later of command.householdIds.slice(index + 1)) {
            results.push(aborted(later, `Not tried: household ${householdId} failed first`));
          }
          return results;
        }
      }
    }
    return results;
  }

  /**
   * Checks a confirmed registration in (the given members, or everyone on it). Checking in a
   * checked-in registration changes nothing: `alreadyCheckedIn` tells the caller. Counters never
   * move: a checked-in registration keeps holding its spots.
   */
  async checkIn(
    id: string,
    input: { memberIds?: string[]; checkedInAt?: Date },
    actor: Actor,
    now: Date = new Date(),
  ): Promise<{ registration: RegistrationView; alreadyCheckedIn: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const registration = await this.registrationService.get(id, undefined);
      if (registration.status !== 'confirmed' && registration.status !== 'checked_in') {
        throw new DomainError(
          'INVALID_STATE',
          `A ${registration.status} registration cannot be checked in`,
        );
      }
      const memberIds = input.memberIds ?? registration.memberIds;
      const onIt = new Set(registration.memberIds);
      const strangers = memberIds.filter((m) => !onIt.has(m));
      if (strangers.length > 0) {
        throw new DomainError(
          'MEMBER_NOT_IN_HOUSEHOLD',
          'Every member checked in must be on the registration',
          {
            memberIds: strangers,
          },
        );
      }
      const date = await this.schedule.findDate(registration.eventDateId);
      if (!date) throw new DomainError('EVENT_DATE_NOT_FOUND', 'No such event date');
      const at = input.checkedInAt ?? now;
      const problem = checkInTimeProblem(at, dateKeyToIso(date.dateKey), now);
      if (problem)
        throw new DomainError('VALIDATION_FAILED', problem, [
          { field: 'checkedInAt', problems: [problem] },
        ]);
      if (registration.status === 'checked_in')
        return { registration: toView(registration), alreadyCheckedIn: true };

      if (
        await this.admin.checkIn({
          registration,
          memberIds,
          checkedInAt: at,
          actor: actor.sub,
        })
      ) {
        const checkedIn = await this.registrationService.get(id, undefined);
        this.announce(checkedIn);
        return { registration: toView(checkedIn), alreadyCheckedIn: false };
      }
      // another request changed it, or a saga (a move, a resize) holds it for a moment
      if (attempt >= RETRIES) {
        throw new DomainError(
          'INVALID_STATE',
          'The registration is being changed by another request; try again',
          undefined,
          1,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async cancel(id: string, actor: Actor): Promise<RegistrationView> {
    return this.registrationService.cancel(id, undefined, actor);
  }

  async history(id: string): Promise<HistoryRow[]> {
    await this.registrationService.get(id, undefined);
    return this.registrationHistory.list(id);
  }

  // ---- pieces -------------------------------------------------------------------------------

  private async mustFindHousehold(householdId: string): Promise<void> {
    if (!(await this.households.householdExists(householdId))) {
      throw new DomainError('HOUSEHOLD_NOT_FOUND', `No such household: ${householdId}`);
    }
  }

  /** Undoes every successful result of an all-or-nothing bulk and marks it aborted. */
  private async undo(results: BulkResult[], actor: Actor): Promise<void> {
    const failed = results[results.length - 1];
    for (const [i, result] of results.entries()) {
      if (result === failed) continue;
      const registration = result.registration;
      const reason = `Undone: household ${failed.householdId} failed (${failed.error?.code ?? 'unknown'})`;
      if (!registration) {
        results[i] = aborted(result.householdId, reason);
        continue;
      }
      try {
        await this.registrationService.cancel(registration.id, undefined, actor);
        if (!(await this.admin.purgeCancelled(registration.id))) {
          // its spots are being given back by recovery; it stays, cancelled, until then
          this.logger.warn(
            { registrationId: registration.id },
            'bulk undo: cancelled registration kept',
          );
        }
        results[i] = aborted(result.householdId, reason);
      } catch (error) {
        this.logger.error(
          { registrationId: registration.id, err: String(error) },
          'bulk undo failed',
        );
        const current = await this.registrations.findById(registration.id).catch(() => undefined);
        results[i] = {
          householdId: result.householdId,
          status: 'failed',
          registration: current ? toView(current) : registration,
          error: {
            code: 'UNDO_FAILED',
            message: 'This registration could not be undone; cancel it by hand',
          },
        };
      }
    }
  }

  private errorOf(error: unknown, householdId: string): { code: string; message: string } {
    if (error instanceof DomainError) return { code: error.code, message: error.message };
    this.logger.error(
      { householdId, err: error instanceof Error ? error.stack : String(error) },
      'bulk registration failed',
    );
    return { code: 'INTERNAL_ERROR', message: 'Internal error' };
  }

  private announce(r: Registration): void {
    // a check-in changes no counter, so there is no availability event
    this.events.emit({
      type: 'registration',
      registrationId: r.id,
      householdId: r.householdId,
      eventDateId: r.eventDateId,
      eventSlotId: r.eventSlotId,
      status: r.status,
      waitlistPosition: null,
      action: 'checked_in',
      at: new Date(),
    });
  }
}

function aborted(householdId: string, message: string): BulkResult {
  return { householdId, status: 'failed', registration: null, error: { code: ABORTED, message } };
}
