import { Inject, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { Subscription } from 'rxjs';
import type { Namespace, Socket } from 'socket.io';
import { DomainError } from '../common/domain-error';
import { DomainEvents, RegistrationChanged } from '../common/domain-events';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { HouseholdRepository } from '../households/household.repository';
import { MetricsService } from '../metrics/metrics.service';
import { EventDateView, ScheduleService } from '../schedule/schedule.service';
import { Coalescer } from './coalescer';
import { verifySocketToken } from './socket-auth';

/** At most this often per date and instance: about four pushes a second. */
export const AVAILABILITY_INTERVAL_MS = 250;
const MAX_SUBSCRIPTIONS = 50;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface SocketData {
  sub?: string;
  householdId?: string;
}

type Ack<T> = T | { error: { code: string; message: string } };

const dateRoom = (id: number) => `date:${id}`;
const householdRoom = (id: string) => `household:${id}`;

function failure(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

// socket.io namespace /realtime. Anyone may connect and subscribe to a date's availability; a
// client that connects with auth.token also gets its own household's registration events,
// never another's. Events come from DomainEvents, which the saga emits only after commit, so a
// push never announces what HTTP cannot show yet. Only the instance that made a change reads
// and emits; through the adapter (Redis when configured) every instance's clients receive it.
@WebSocketGateway({ namespace: '/realtime' })
export class RealtimeGateway
  implements OnGatewayInit, OnGatewayConnection, OnModuleInit, OnModuleDestroy
{
  private readonly logger = new Logger(RealtimeGateway.name);
  private readonly subscriptions: Subscription[] = [];
  private readonly availability = new Coalescer<number>(AVAILABILITY_INTERVAL_MS, (id) =>
    this.pushAvailability(id),
  );

  @WebSocketServer()
  private readonly nsp?: Namespace;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly events: DomainEvents,
    private readonly schedule: ScheduleService,
    private readonly households: HouseholdRepository,
    private readonly metrics: MetricsService,
  ) {}

  afterInit(nsp: Namespace): void {
    // a bad token refuses the connection: the client gets connect_error "UNAUTHENTICATED"
    nsp.use((socket, next) => {
      this.authenticate(socket).then(
        () => next(),
        (error: unknown) => {
          const code = error instanceof DomainError ? error.code : 'SERVICE_UNAVAILABLE';
          next(Object.assign(new Error(code), { data: { code } }));
        },
      );
    });
  }

  handleConnection(socket: Socket): void {
    const { householdId } = socket.data as SocketData;
    if (householdId !== undefined) void socket.join(householdRoom(householdId));
  }

  onModuleInit(): void {
    this.subscriptions.push(
      this.events.stream.subscribe((event) => {
        if (event.type === 'availability') this.availability.touch(event.eventDateId);
        else this.pushRegistration(event);
      }),
    );
  }

  async onModuleDestroy(): Promise<void> {
    for (const s of this.subscriptions) s.unsubscribe();
    await this.availability.close();
  }

  @SubscribeMessage('subscribe')
  async subscribe(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<Ack<EventDateView>> {
    const id = eventDateIdOf(body);
    if (id === undefined)
      return failure('VALIDATION_FAILED', 'eventDateId must be a positive integer');
    const room = dateRoom(id);
    if (
      !socket.rooms.has(room) &&
      [...socket.rooms].filter((r) => r.startsWith('date:')).length >= MAX_SUBSCRIPTIONS
    ) {
      return failure('VALIDATION_FAILED', `at most ${MAX_SUBSCRIPTIONS} dates per connection`);
    }
    await this.joinHouseholdIfNew(socket);
    // join before reading, so a change committed in between is pushed rather than missed
    await socket.join(room);
    try {
      return await this.schedule.getEventDate(id);
    } catch (error) {
      await socket.leave(room);
      if (error instanceof DomainError) return failure(error.code, error.message);
      this.logger.error({ err: error }, 'subscribe failed');
      return failure('INTERNAL_ERROR', 'Internal error');
    }
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(
    @ConnectedSocket() socket: Socket,
    @MessageBody() body: unknown,
  ): Promise<Ack<{ ok: true }>> {
    const id = eventDateIdOf(body);
    if (id === undefined)
      return failure('VALIDATION_FAILED', 'eventDateId must be a positive integer');
    await socket.leave(dateRoom(id));
    return { ok: true };
  }

  private async authenticate(socket: Socket): Promise<void> {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (token === undefined || token === null) return;
    const user = verifySocketToken(token, this.config);
    if (!user) throw new DomainError('UNAUTHENTICATED', 'Authentication is required');
    const data = socket.data as SocketData;
    data.sub = user.sub;
    data.householdId = await this.households.householdIdOfAccount(user.sub);
    // the token's expiry ends the connection too; the client reconnects with a fresh one
    const timer = setTimeout(
      () => socket.disconnect(true),
      Math.min(MAX_TIMER_MS, user.exp * 1000 - Date.now()),
    );
    socket.once('disconnect', () => clearTimeout(timer));
  }

  /** An account that created its household after connecting gets its events from then on. */
  private async joinHouseholdIfNew(socket: Socket): Promise<void> {
    const data = socket.data as SocketData;
    if (data.sub === undefined || data.householdId !== undefined) return;
    data.householdId = await this.households.householdIdOfAccount(data.sub).catch(() => undefined);
    if (data.householdId !== undefined) await socket.join(householdRoom(data.householdId));
  }

  private async pushAvailability(eventDateId: number): Promise<void> {
    if (!this.nsp) return;
    const at = new Date();
    let view: EventDateView;
    try {
      view = await this.schedule.getEventDate(eventDateId);
    } catch (error) {
      // a date that was unpublished meanwhile has nothing to show
      if (error instanceof DomainError && error.code === 'EVENT_DATE_NOT_FOUND') return;
      throw error;
    }
    this.nsp.to(dateRoom(eventDateId)).emit('availability', { ...view, at: at.toISOString() });
    this.metrics.realtimePush('availability');
  }

  private pushRegistration(event: RegistrationChanged): void {
    if (!this.nsp) return;
    this.nsp.to(householdRoom(event.householdId)).emit('registration', {
      id: event.registrationId,
      status: event.status,
      waitlistPosition: event.waitlistPosition,
      at: event.at.toISOString(),
    });
    this.metrics.realtimePush('registration');
  }
}

function eventDateIdOf(body: unknown): number | undefined {
  const raw =
    typeof body === 'object' && body !== null
      ? (body as { eventDateId?: unknown }).eventDateId
      : undefined;
  const id = typeof raw === 'string' && /^\d{1,10}$/.test(raw) ? Number(raw) : raw;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 && id <= 4294967295
    ? id
    : undefined;
}
