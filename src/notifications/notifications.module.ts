import { Module } from '@nestjs/common';
import { NotificationOutboxModule } from './notification-outbox.module';
import { OutboxDispatcher } from './outbox.dispatcher';

@Module({
  imports: [NotificationOutboxModule],
  providers: [OutboxDispatcher],
  exports: [OutboxDispatcher],
})
export class NotificationsModule {}
