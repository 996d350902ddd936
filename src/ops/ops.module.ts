import { Module } from '@nestjs/common';
import { RegistrationsModule } from '../registrations/registrations.module';
import { DriftController } from './drift.controller';
import { ReconciliationModule } from './reconciliation.module';
import { RecoveryService } from './recovery.service';

@Module({
  imports: [ReconciliationModule, RegistrationsModule],
  controllers: [DriftController],
  providers: [RecoveryService],
  exports: [RecoveryService],
})
export class OpsModule {}
