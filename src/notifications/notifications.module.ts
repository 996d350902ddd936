import { Module } from '@nestjs/common';
import { NotificationOutboxRepository } from './notification-outbox.repository';
import { OutboxDispatcher } from './outbox.dispatcher';

@Module({
  providers: [NotificationOutboxRepository, OutboxDispatcher],
  exports: [OutboxDispatcher],
})
export class NotificationsModule {}
