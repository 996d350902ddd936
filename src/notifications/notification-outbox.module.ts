import { Module } from '@nestjs/common';
import { NotificationOutboxRepository } from './notification-outbox.repository';

// The outbox table alone, for the modules that write messages in their own transactions
// (the registration saga, staff tools) without starting the dispatcher.
@Module({
  providers: [NotificationOutboxRepository],
  exports: [NotificationOutboxRepository],
})
export class NotificationOutboxModule {}
