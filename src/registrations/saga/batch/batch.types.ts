import type { CounterTarget } from '../../../schedule/schedule.types';
import type { Registration } from '../../registration.types';
import type { NewRegistration } from '../saga.types';

/** A new registration once its batch's step 1 committed: pending, held by its own saga. */
export interface Intent {
  input: NewRegistration;
  registrationId: string;
  sagaId: string;
  createdAt: Date;
}

/** A waitlisted registration claimed for promotion by its own saga. */
export interface PromotionClaim {
  registrationId: string;
  sagaId: string;
  spots: number;
  partySize: number;
  target: CounterTarget;
  /** the registration whose release made the room (recorded in history), else null */
  cause: string | null;
}

/** A registration cancelled by step 1 of a cancel batch. */
export interface CancelIntent {
  registration: Registration;
  sagaId: string;
  /** the seat it held and that is still to give back (confirmed only) */
  owes: boolean;
  at: Date;
}

/** How step 3 of a register batch left one registration. */
export type Settlement =
  | { outcome: 'confirmed'; at: Date }
  | { outcome: 'waitlisted'; at: Date; place: number; position: number }
  | { outcome: 'full' }
  /** recovery took its saga over (it outlived its lease): not ours to answer */
  | { outcome: 'lost' };
