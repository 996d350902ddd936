import { Module } from '@nestjs/common';
import { AdminHouseholdController, MyHouseholdController } from './household.controller';
import { HouseholdRepository } from './household.repository';
import { HouseholdService } from './household.service';

@Module({
  controllers: [MyHouseholdController, AdminHouseholdController],
  providers: [HouseholdRepository, HouseholdService],
  exports: [HouseholdRepository, HouseholdService],
})
export class HouseholdsModule {}
