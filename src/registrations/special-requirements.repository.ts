import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PRIVATE_DB } from '../database/database.constants';
import { privateTransaction } from '../database/sql';
import { RegistrationHistoryRepository } from './registration-history.repository';
import { RegistrationRepository } from './registration.repository';

// A change of the special requirements alone: ONE private transaction (the text and a history
// row that says it changed, never what it says). No saga, no counter, no version bump: the
// text is independent of every counter move, so a saga holding the registration at the same
// moment is neither waited for nor disturbed (a change that carries the text with members or a
// slot applies it inside the saga's own step instead: saga-steps.repository.ts).
@Injectable()
export class SpecialRequirementsRepository {
  constructor(
    @InjectDataSource(PRIVATE_DB) private readonly db: DataSource,
    private readonly registrations: RegistrationRepository,
    private readonly history: RegistrationHistoryRepository,
  ) {}

  /** 'refused' when the registration is no longer confirmed or waitlisted. */
  async change(
    registrationId: string,
    text: string | null,
    actor: string,
  ): Promise<'changed' | 'unchanged' | 'refused'> {
    return privateTransaction(this.db, async (m) => {
      const row = await this.registrations.lockState(m, registrationId);
      if (!row || (row.status !== 'confirmed' && row.status !== 'waitlisted')) return 'refused';
      if (!(await this.registrations.setSpecialRequirements(m, registrationId, text)))
        return 'unchanged';
      await this.history.record(
        m,
        { registrationId, eventDateId: row.eventDateId, actor },
        {
          action: 'requirements_changed',
          fromStatus: row.status,
          toStatus: row.status,
          spots: row.spots,
          eventSlotId: row.eventSlotId,
        },
        row.status,
      );
      return 'changed';
    });
  }
}
