import { Module } from '@nestjs/common';
import { JwtAuthGuard, StaffGuard } from './auth.guards';

@Module({
  providers: [JwtAuthGuard, StaffGuard],
  exports: [JwtAuthGuard, StaffGuard],
})
export class AuthModule {}
