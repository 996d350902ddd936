import { MigrationInterface, QueryRunner } from 'typeorm';

// The private schema. One active registration per household and date is enforced by a
// unique key over a generated column that is NULL unless the registration is active.
export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `households` (`id` bigint NOT NULL AUTO_INCREMENT, `created_by` varchar(191) NOT NULL, `created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query(
      'CREATE TABLE `accounts` (`id` bigint NOT NULL AUTO_INCREMENT, `sub` varchar(191) NOT NULL, `household_id` bigint NULL, `created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), UNIQUE INDEX `uq_accounts_sub` (`sub`), UNIQUE INDEX `uq_accounts_household` (`household_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query(
      'CREATE TABLE `household_members` (`id` bigint NOT NULL AUTO_INCREMENT, `household_id` bigint NOT NULL, `first_name` varchar(100) NOT NULL, `last_name` varchar(100) NOT NULL, `date_of_birth` date NOT NULL, `is_head_of_household` tinyint NOT NULL DEFAULT 0, `is_active` tinyint NOT NULL DEFAULT 1, `created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX `ix_members_household` (`household_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query(
      'CREATE TABLE `event_statuses` (`code` varchar(20) NOT NULL, `description` varchar(200) NOT NULL, `is_active` tinyint NOT NULL, `holds_capacity` tinyint NOT NULL, PRIMARY KEY (`code`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query(
      "CREATE TABLE `event_date_settings` (`event_date_id` int UNSIGNED NOT NULL, `waitlist_enabled` tinyint NOT NULL DEFAULT 1, `waitlist_limit` int NULL, `capacity_unit` varchar(10) NOT NULL DEFAULT 'household', `updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), PRIMARY KEY (`event_date_id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    );
    await queryRunner.query(
      "CREATE TABLE `event_registrations` (`id` bigint NOT NULL AUTO_INCREMENT, `household_id` bigint NOT NULL, `event_id` int UNSIGNED NOT NULL, `event_date_id` int UNSIGNED NOT NULL, `event_hour_id` int UNSIGNED NULL, `event_slot_id` int UNSIGNED NULL, `status` varchar(20) NOT NULL, `party_size` int NOT NULL, `spots` int NOT NULL, `queued_at` datetime(6) NULL, `pending_saga_id` bigint NULL, `version` int NOT NULL DEFAULT '1', `created_by` varchar(191) NOT NULL, `created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), `confirmed_at` datetime(6) NULL, `cancelled_at` datetime(6) NULL, `checked_in_at` datetime(6) NULL, `active_date_id` bigint AS (if(`status` in ('pending','confirmed','waitlisted','checked_in'),`event_date_id`,NULL)) STORED, INDEX `ix_registrations_slot` (`event_slot_id`, `status`), INDEX `ix_registrations_household` (`household_id`, `created_at`), INDEX `ix_registrations_queue` (`event_date_id`, `event_slot_id`, `status`, `queued_at`, `id`), UNIQUE INDEX `uq_registrations_household_active_date` (`household_id`, `active_date_id`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    );
    await queryRunner.query(
      'CREATE TABLE `event_registration_members` (`registration_id` bigint NOT NULL, `member_id` bigint NOT NULL, `checked_in` tinyint NOT NULL DEFAULT 0, INDEX `ix_registration_members_member` (`member_id`), PRIMARY KEY (`registration_id`, `member_id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query(
      'CREATE TABLE `registration_history` (`id` bigint NOT NULL AUTO_INCREMENT, `registration_id` bigint NOT NULL, `event_date_id` int UNSIGNED NOT NULL, `at` datetime(6) NOT NULL, `actor` varchar(191) NOT NULL, `action` varchar(30) NOT NULL, `from_status` varchar(20) NULL, `to_status` varchar(20) NOT NULL, `spots` int NOT NULL, `event_slot_id` int UNSIGNED NULL, INDEX `ix_history_date` (`event_date_id`, `action`), INDEX `ix_history_registration` (`registration_id`, `id`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query(
      "CREATE TABLE `registration_sagas` (`id` bigint NOT NULL AUTO_INCREMENT, `registration_id` bigint NOT NULL, `event_date_id` int UNSIGNED NOT NULL, `kind` varchar(20) NOT NULL, `state` varchar(20) NOT NULL, `take_slot_id` int UNSIGNED NULL, `take_hour_id` int UNSIGNED NULL, `take_spots` int NOT NULL DEFAULT '0', `release_slot_id` int UNSIGNED NULL, `release_hour_id` int UNSIGNED NULL, `release_spots` int NOT NULL DEFAULT '0', `plan` text NOT NULL, `actor` varchar(191) NOT NULL, `idempotency_scope` char(64) NULL, `lease_until` datetime(6) NOT NULL, `outcome` varchar(40) NULL, `created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `updated_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX `ix_sagas_date_state` (`event_date_id`, `state`), INDEX `ix_sagas_registration` (`registration_id`), INDEX `ix_sagas_unfinished` (`state`, `lease_until`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    );
    await queryRunner.query(
      'CREATE TABLE `idempotency_keys` (`scope_hash` char(64) NOT NULL, `request_hash` char(64) NOT NULL, `state` varchar(10) NOT NULL, `status_code` int NULL, `response_body` mediumtext NULL, `saga_id` bigint NULL, `locked_until` datetime(6) NOT NULL, `expires_at` datetime(6) NOT NULL, `created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), INDEX `ix_idempotency_expires` (`expires_at`), PRIMARY KEY (`scope_hash`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query(
      "CREATE TABLE `notification_outbox` (`id` bigint NOT NULL AUTO_INCREMENT, `household_id` bigint NOT NULL, `registration_id` bigint NOT NULL, `kind` varchar(30) NOT NULL, `payload` text NOT NULL, `attempts` int NOT NULL DEFAULT '0', `available_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), `sent_at` datetime(6) NULL, `last_error` varchar(500) NULL, `created_at` datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), INDEX `ix_outbox_household` (`household_id`, `id`), INDEX `ix_outbox_pending` (`sent_at`, `available_at`), PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
    );
    await queryRunner.query(
      'CREATE TABLE IF NOT EXISTS `typeorm_metadata` (`type` varchar(255) NOT NULL, `database` varchar(255) NULL, `schema` varchar(255) NULL, `table` varchar(255) NULL, `name` varchar(255) NULL, `value` text NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    // lets TypeORM's schema diff recognise the generated column (see db:check)
    await queryRunner.query(
      "INSERT INTO `typeorm_metadata` (`type`, `database`, `schema`, `table`, `name`, `value`) VALUES ('GENERATED_COLUMN', NULL, DATABASE(), 'event_registrations', 'active_date_id', ?)",
      [ACTIVE_DATE_EXPRESSION],
    );
    await queryRunner.query(
      'INSERT INTO `event_statuses` (`code`, `description`, `is_active`, `holds_capacity`) VALUES ?',
      [STATUSES],
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DELETE FROM `typeorm_metadata` WHERE `table` = 'event_registrations'");
    await queryRunner.query('DROP TABLE `notification_outbox`');
    await queryRunner.query('DROP TABLE `idempotency_keys`');
    await queryRunner.query('DROP TABLE `registration_sagas`');
    await queryRunner.query('DROP TABLE `registration_history`');
    await queryRunner.query('DROP TABLE `event_registration_members`');
    await queryRunner.query('DROP TABLE `event_registrations`');
    await queryRunner.query('DROP TABLE `event_date_settings`');
    await queryRunner.query('DROP TABLE `event_statuses`');
    await queryRunner.query('DROP TABLE `household_members`');
    await queryRunner.query('DROP TABLE `accounts`');
    await queryRunner.query('DROP TABLE `households`');
  }
}

const ACTIVE_DATE_EXPRESSION =
  "if(`status` in ('pending','confirmed','waitlisted','checked_in'),`event_date_id`,NULL)";

const STATUSES = [
  ['pending', 'A saga is taking its seat; the outcome is not known yet', 1, 0],
  ['confirmed', 'Holds its spots in the public counters', 1, 1],
  ['waitlisted', 'Waiting for room; promoted oldest first', 1, 0],
  ['checked_in', 'Came to the distribution; still holds its spots', 1, 1],
  ['cancelled', 'Cancelled by the household or staff; spots given back', 0, 0],
  ['failed', 'The saga could not take a seat and the household declined the waitlist', 0, 0],
];
