import { Module } from '@nestjs/common';
import { HouseholdRepository } from './household.repository';

@Module({
  providers: [HouseholdRepository],
  exports: [HouseholdRepository],
})
export class HouseholdsModule {}
