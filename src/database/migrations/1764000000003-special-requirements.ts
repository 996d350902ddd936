import { MigrationInterface, QueryRunner } from 'typeorm';

// A household's free text for the pantry ("wheelchair access", "no pork"). It may be health
// information: it lives only in this column (never in history, the outbox or saga outcomes),
// NULL when there is none. VARCHAR(500) in utf8mb4 counts characters, the API's limit.
export class SpecialRequirements1764000000003 implements MigrationInterface {
  name = 'SpecialRequirements1764000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE `event_registrations` ADD `special_requirements` varchar(500) NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE `event_registrations` DROP COLUMN `special_requirements`');
  }
}
