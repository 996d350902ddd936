import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

// Everything this service owns. The migrations in ../migrations build exactly these
// tables; `npm run db:check` fails when an entity needs a migration not yet written.

const createdAt = {
  name: 'created_at',
  type: 'datetime',
  precision: 6,
  default: () => 'CURRENT_TIMESTAMP(6)',
} as const;
const updatedAt = {
  name: 'updated_at',
  type: 'datetime',
  precision: 6,
  default: () => 'CURRENT_TIMESTAMP(6)',
  onUpdate: 'CURRENT_TIMESTAMP(6)',
} as const;

@Entity({ name: 'households' })
export class HouseholdEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'created_by', type: 'varchar', length: 191 })
  createdBy!: string;

  @Column(createdAt)
  createdAt!: Date;

  @Column(updatedAt)
  updatedAt!: Date;
}

@Entity({ name: 'accounts' })
export class AccountEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Index('uq_accounts_sub', { unique: true })
  @Column({ type: 'varchar', length: 191 })
  sub!: string;

  @Index('uq_accounts_household', { unique: true })
  @Column({ name: 'household_id', type: 'bigint', nullable: true })
  householdId!: string | null;

  @Column(createdAt)
  createdAt!: Date;
}

@Entity({ name: 'household_members' })
@Index('ix_members_household', ['householdId'])
export class HouseholdMemberEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'household_id', type: 'bigint' })
  householdId!: string;

  @Column({ name: 'first_name', type: 'varchar', length: 100 })
  firstName!: string;

  @Column({ name: 'last_name', type: 'varchar', length: 100 })
  lastName!: string;

  @Column({ name: 'date_of_birth', type: 'date' })
  dateOfBirth!: string;

  @Column({ name: 'is_head_of_household', type: 'boolean', default: false })
  isHeadOfHousehold!: boolean;

  @Column({ name: 'is_active', type: 'boolean', default: true })
  isActive!: boolean;

  @Column(createdAt)
  createdAt!: Date;

  @Column(updatedAt)
  updatedAt!: Date;
}

// Seeded by a migration. `active`: occupies the household's one registration per date.
// `holds_capacity`: its spots are counted in the public reserved counters.
@Entity({ name: 'event_statuses' })
export class EventStatusEntity {
  @PrimaryColumn({ type: 'varchar', length: 20 })
  code!: string;

  @Column({ type: 'varchar', length: 200 })
  description!: string;

  @Column({ name: 'is_active', type: 'boolean' })
  isActive!: boolean;

  @Column({ name: 'holds_capacity', type: 'boolean' })
  holdsCapacity!: boolean;
}

@Entity({ name: 'event_date_settings' })
export class EventDateSettingsEntity {
  @PrimaryColumn({ name: 'event_date_id', type: 'int', unsigned: true })
  eventDateId!: number;

  @Column({ name: 'waitlist_enabled', type: 'boolean', default: true })
  waitlistEnabled!: boolean;

  @Column({ name: 'waitlist_limit', type: 'int', nullable: true })
  waitlistLimit!: number | null;

  @Column({ name: 'capacity_unit', type: 'varchar', length: 10, default: 'household' })
  capacityUnit!: string;

  @Column(updatedAt)
  updatedAt!: Date;
}

@Entity({ name: 'event_registrations' })
@Index('uq_registrations_household_active_date', ['householdId', 'activeDateId'], { unique: true })
@Index('ix_registrations_queue', ['eventDateId', 'eventSlotId', 'status', 'queuePlace'])
@Index('ix_registrations_household', ['householdId', 'createdAt'])
@Index('ix_registrations_slot', ['eventSlotId', 'status'])
export class EventRegistrationEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'household_id', type: 'bigint' })
  householdId!: string;

  @Column({ name: 'event_id', type: 'int', unsigned: true })
  eventId!: number;

  @Column({ name: 'event_date_id', type: 'int', unsigned: true })
  eventDateId!: number;

  @Column({ name: 'event_hour_id', type: 'int', unsigned: true, nullable: true })
  eventHourId!: number | null;

  @Column({ name: 'event_slot_id', type: 'int', unsigned: true, nullable: true })
  eventSlotId!: number | null;

  @Column({ type: 'varchar', length: 20 })
  status!: string;

  @Column({ name: 'party_size', type: 'int' })
  partySize!: number;

  @Column({ type: 'int' })
  spots!: number;

  // When it joined the waitlist (its createdAt); kept for history and stats.
  @Column({ name: 'queued_at', type: 'datetime', precision: 6, nullable: true })
  queuedAt!: Date | null;

  // Its place in the waitlist of its target, handed out in commit order (waitlist_queues);
  // the queue, positions and promotion are ordered by it. NULL unless waitlisted.
  @Column({ name: 'queue_place', type: 'bigint', nullable: true })
  queuePlace!: string | null;

  // The saga that currently owns this registration; NULL when none is in flight.
  @Column({ name: 'pending_saga_id', type: 'bigint', nullable: true })
  pendingSagaId!: string | null;

  @Column({ type: 'int', default: 1 })
  version!: number;

  @Column({ name: 'created_by', type: 'varchar', length: 191 })
  createdBy!: string;

  @Column(createdAt)
  createdAt!: Date;

  @Column(updatedAt)
  updatedAt!: Date;

  @Column({ name: 'confirmed_at', type: 'datetime', precision: 6, nullable: true })
  confirmedAt!: Date | null;

  @Column({ name: 'cancelled_at', type: 'datetime', precision: 6, nullable: true })
  cancelledAt!: Date | null;

  @Column({ name: 'checked_in_at', type: 'datetime', precision: 6, nullable: true })
  checkedInAt!: Date | null;

  // Free text for the pantry; may be health information, so it is never logged, never in
  // history, the outbox or real-time events.
  @Column({ name: 'special_requirements', type: 'varchar', length: 500, nullable: true })
  specialRequirements!: string | null;

  // MySQL has no partial unique index: this is NULL unless the registration is active.
  @Column({
    name: 'active_date_id',
    type: 'bigint',
    nullable: true,
    generatedType: 'STORED',
    asExpression:
      "if(`status` in ('pending','confirmed','waitlisted','checked_in'),`event_date_id`,NULL)",
  })
  activeDateId!: string | null;
}

@Entity({ name: 'event_registration_members' })
@Index('ix_registration_members_member', ['memberId'])
export class EventRegistrationMemberEntity {
  @PrimaryColumn({ name: 'registration_id', type: 'bigint' })
  registrationId!: string;

  @PrimaryColumn({ name: 'member_id', type: 'bigint' })
  memberId!: string;

  @Column({ name: 'checked_in', type: 'boolean', default: false })
  checkedIn!: boolean;
}

@Entity({ name: 'registration_history' })
@Index('ix_history_registration', ['registrationId', 'id'])
@Index('ix_history_date', ['eventDateId', 'action'])
export class RegistrationHistoryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'registration_id', type: 'bigint' })
  registrationId!: string;

  @Column({ name: 'event_date_id', type: 'int', unsigned: true })
  eventDateId!: number;

  @Column({ type: 'datetime', precision: 6 })
  at!: Date;

  @Column({ type: 'varchar', length: 191 })
  actor!: string;

  @Column({ type: 'varchar', length: 30 })
  action!: string;

  @Column({ name: 'from_status', type: 'varchar', length: 20, nullable: true })
  fromStatus!: string | null;

  @Column({ name: 'to_status', type: 'varchar', length: 20 })
  toStatus!: string;

  @Column({ type: 'int' })
  spots!: number;

  @Column({ name: 'event_slot_id', type: 'int', unsigned: true, nullable: true })
  eventSlotId!: number | null;

  @Column({ name: 'cause_registration_id', type: 'bigint', nullable: true })
  causeRegistrationId!: string | null;
}

// One row per operation that moves public counters. See registration.saga.ts.
@Entity({ name: 'registration_sagas' })
@Index('ix_sagas_unfinished', ['state', 'leaseUntil'])
@Index('ix_sagas_registration', ['registrationId'])
@Index('ix_sagas_date_state', ['eventDateId', 'state'])
export class RegistrationSagaEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'registration_id', type: 'bigint' })
  registrationId!: string;

  @Column({ name: 'event_date_id', type: 'int', unsigned: true })
  eventDateId!: number;

  @Column({ type: 'varchar', length: 20 })
  kind!: string;

  @Column({ type: 'varchar', length: 20 })
  state!: string;

  @Column({ name: 'take_slot_id', type: 'int', unsigned: true, nullable: true })
  takeSlotId!: number | null;

  @Column({ name: 'take_hour_id', type: 'int', unsigned: true, nullable: true })
  takeHourId!: number | null;

  @Column({ name: 'take_spots', type: 'int', default: 0 })
  takeSpots!: number;

  @Column({ name: 'release_slot_id', type: 'int', unsigned: true, nullable: true })
  releaseSlotId!: number | null;

  @Column({ name: 'release_hour_id', type: 'int', unsigned: true, nullable: true })
  releaseHourId!: number | null;

  @Column({ name: 'release_spots', type: 'int', default: 0 })
  releaseSpots!: number;

  // What the registration becomes when the take succeeds (JSON, see SagaPlan).
  @Column({ type: 'text' })
  plan!: string;

  @Column({ type: 'varchar', length: 191 })
  actor!: string;

  @Column({ name: 'idempotency_scope', type: 'char', length: 64, nullable: true })
  idempotencyScope!: string | null;

  @Column({ name: 'lease_until', type: 'datetime', precision: 6 })
  leaseUntil!: Date;

  @Column({ type: 'varchar', length: 40, nullable: true })
  outcome!: string | null;

  @Column(createdAt)
  createdAt!: Date;

  @Column(updatedAt)
  updatedAt!: Date;
}

@Entity({ name: 'idempotency_keys' })
@Index('ix_idempotency_expires', ['expiresAt'])
export class IdempotencyKeyEntity {
  // sha256 of caller, method, route and key
  @PrimaryColumn({ name: 'scope_hash', type: 'char', length: 64 })
  scopeHash!: string;

  @Column({ name: 'request_hash', type: 'char', length: 64 })
  requestHash!: string;

  @Column({ type: 'varchar', length: 10 })
  state!: string;

  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode!: number | null;

  @Column({ name: 'response_body', type: 'mediumtext', nullable: true })
  responseBody!: string | null;

  @Column({ name: 'saga_id', type: 'bigint', nullable: true })
  sagaId!: string | null;

  @Column({ name: 'locked_until', type: 'datetime', precision: 6 })
  lockedUntil!: Date;

  @Column({ name: 'expires_at', type: 'datetime', precision: 6 })
  expiresAt!: Date;

  @Column(createdAt)
  createdAt!: Date;
}

@Entity({ name: 'notification_outbox' })
@Index('ix_outbox_pending', ['sentAt', 'availableAt'])
@Index('ix_outbox_household', ['householdId', 'id'])
export class NotificationOutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'household_id', type: 'bigint' })
  householdId!: string;

  @Column({ name: 'registration_id', type: 'bigint' })
  registrationId!: string;

  @Column({ type: 'varchar', length: 30 })
  kind!: string;

  @Column({ type: 'text' })
  payload!: string;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({
    name: 'available_at',
    type: 'datetime',
    precision: 6,
    default: () => 'CURRENT_TIMESTAMP(6)',
  })
  availableAt!: Date;

  @Column({ name: 'sent_at', type: 'datetime', precision: 6, nullable: true })
  sentAt!: Date | null;

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError!: string | null;

  @Column(createdAt)
  createdAt!: Date;
}

// The last waitlist place handed out per target (slot_key: the slot, 0 for a whole date),
// taken under this row's lock by the transaction that waitlists registrations.
@Entity({ name: 'waitlist_queues' })
export class WaitlistQueueEntity {
  @PrimaryColumn({ name: 'event_date_id', type: 'int', unsigned: true })
  eventDateId!: number;

  @PrimaryColumn({ name: 'slot_key', type: 'int', unsigned: true })
  slotKey!: number;

  @Column({ name: 'last_place', type: 'bigint', default: 0 })
  lastPlace!: string;
}

export const PRIVATE_ENTITIES = [
  HouseholdEntity,
  AccountEntity,
  HouseholdMemberEntity,
  EventStatusEntity,
  EventDateSettingsEntity,
  EventRegistrationEntity,
  EventRegistrationMemberEntity,
  RegistrationHistoryEntity,
  RegistrationSagaEntity,
  IdempotencyKeyEntity,
  NotificationOutboxEntity,
  WaitlistQueueEntity,
];
