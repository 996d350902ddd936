import { Global, Module } from '@nestjs/common';
import { DomainEvents } from './domain-events';
import { Failpoints } from './failpoints';

@Global()
@Module({ providers: [DomainEvents, Failpoints], exports: [DomainEvents, Failpoints] })
export class CommonModule {}
