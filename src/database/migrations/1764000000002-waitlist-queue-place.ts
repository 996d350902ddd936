import { MigrationInterface, QueryRunner } from 'typeorm';

// Waitlist order by a place handed out in commit order. A registration gets its place in the
// same transaction that makes it waitlisted, from a per-target sequence row taken under its
// lock (waitlist_queues; slot_key 0 is a date booked as a whole), so two registrations never
// share a place and a position told is the position kept. Existing queues are numbered in the
// order they had (queued_at, then id), and each sequence starts after its last place.
export class WaitlistQueuePlace1764000000002 implements MigrationInterface {
  name = 'WaitlistQueuePlace1764000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `waitlist_queues` (`event_date_id` int UNSIGNED NOT NULL, `slot_key` int UNSIGNED NOT NULL, `last_place` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`event_date_id`, `slot_key`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci',
    );
    await queryRunner.query('ALTER TABLE `event_registrations` ADD `queue_place` bigint NULL');
    await queryRunner.query(
      `UPDATE event_registrations r JOIN (
         SELECT id, ROW_NUMBER() OVER (PARTITION BY event_date_id, event_slot_id ORDER BY queued_at, id) AS place
           FROM event_registrations WHERE status = 'waitlisted') q ON q.id = r.id
          SET r.queue_place = q.place`,
    );
    await queryRunner.query(
      `INSERT INTO waitlist_queues (event_date_id, slot_key, last_place)
       SELECT event_date_id, COALESCE(event_slot_id, 0), MAX(queue_place) FROM event_registrations
        WHERE queue_place IS NOT NULL GROUP BY event_date_id, COALESCE(event_slot_id, 0)`,
    );
    await queryRunner.query('DROP INDEX `ix_registrations_queue` ON `event_registrations`');
    await queryRunner.query(
      'CREATE INDEX `ix_registrations_queue` ON `event_registrations` (`event_date_id`, `event_slot_id`, `status`, `queue_place`)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX `ix_registrations_queue` ON `event_registrations`');
    await queryRunner.query(
      'CREATE INDEX `ix_registrations_queue` ON `event_registrations` (`event_date_id`, `event_slot_id`, `status`, `queued_at`, `id`)',
    );
    await queryRunner.query('ALTER TABLE `event_registrations` DROP COLUMN `queue_place`');
    await queryRunner.query('DROP TABLE `waitlist_queues`');
  }
}
