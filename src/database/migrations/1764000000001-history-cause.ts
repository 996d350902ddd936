import { MigrationInterface, QueryRunner } from 'typeorm';

// A promotion caused by another registration's cancel, move or smaller party records that
// registration as its cause (its actor is "system"); NULL for every other history entry.
export class HistoryCause1764000000001 implements MigrationInterface {
  name = 'HistoryCause1764000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE `registration_history` ADD `cause_registration_id` bigint NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE `registration_history` DROP COLUMN `cause_registration_id`',
    );
  }
}
