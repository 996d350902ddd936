import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { JwtStrategy } from './jwt.strategy';
import { StaffGuard } from './auth.guards';

@Module({
  imports: [PassportModule],
  providers: [JwtStrategy, StaffGuard],
  exports: [StaffGuard],
})
export class AuthModule {}
