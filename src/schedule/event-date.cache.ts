import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { DomainEvents } from '../common/domain-events';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EventDateView, ScheduleService } from './schedule.service';

const MAX_ENTRIES = 5000;

// Opt-in (SCHEDULE_CACHE_MS, default 0 = off, at most 1000): GET /api/v1/event-dates/:id readers
// of one date share one read of the databases (single flight) for that long. A change made by this
// instance drops the entry at once; a change made by another instance shows within the TTL, so no
// capacity figure is served more than a second stale. Off by default because with several
// instances a real-time push could then arrive before another instance's HTTP shows the change.
// Real-time pushes never use this: they read fresh after every change.
@Injectable()
export class EventDateCache implements OnModuleDestroy {
  private readonly entries = new Map<number, { at: number; view: Promise<EventDateView> }>();
  private readonly subscription: Subscription;

  constructor(
    private readonly schedule: ScheduleService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    events: DomainEvents,
  ) {
    this.subscription = events.stream.subscribe((event) => {
      if (event.type === 'availability') this.entries.delete(event.eventDateId);
    });
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  get(id: number): Promise<EventDateView> {
    const ttl = this.config.scheduleCacheMs;
    if (ttl <= 0) return this.schedule.getEventDate(id);
    const now = Date.now();
    const hit = this.entries.get(id);
    if (hit && now - hit.at < ttl) return hit.view;
    const view = this.schedule.getEventDate(id);
    this.entries.set(id, { at: now, view });
    view.catch(() => this.entries.delete(id));
    if (this.entries.size > MAX_ENTRIES) {
      for (const [key, entry] of this.entries) if (now - entry.at >= ttl) this.entries.delete(key);
    }
    return view;
  }
}
