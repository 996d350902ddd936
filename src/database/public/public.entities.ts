import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

// The public schema exactly as freshtrak_public.sql has it (only the columns we use or
// that matter for understanding). Never synchronized, never migrated by this service.

@Entity({ name: 'dim_times' })
export class DimTime {
  @PrimaryColumn({ name: 'time_key', type: 'int', unsigned: true })
  timeKey!: number;

  @Column({ name: 'minute_of_day', type: 'int', unsigned: true })
  minuteOfDay!: number;

  @Column({ name: 'mysql_time', type: 'time' })
  mysqlTime!: string;
}

@Entity({ name: 'events' })
export class PublicEvent {
  @PrimaryGeneratedColumn({ name: 'event_id', type: 'int', unsigned: true })
  id!: number;

  @Column({ name: 'event_name', type: 'varchar', length: 80 })
  name!: string;

  @Column({ type: 'varchar', length: 5 })
  zip!: string;

  @Column({ name: 'status_publish_event', type: 'tinyint' })
  statusPublishEvent!: number;

  @Column({ name: 'status_publish_event_dates', type: 'tinyint', unsigned: true })
  statusPublishEventDates!: number;

  @Column({ name: 'event_accept_resesrvations', type: 'tinyint', unsigned: true })
  acceptReservations!: number;

  @Column({ name: 'status_id', type: 'tinyint', unsigned: true })
  statusId!: number;
}

@Entity({ name: 'event_dates' })
export class PublicEventDate {
  @PrimaryGeneratedColumn({ name: 'event_date_id', type: 'int', unsigned: true })
  id!: number;

  @Column({ name: 'event_id', type: 'int', unsigned: true })
  eventId!: number;

  @Column({ name: 'event_date_key', type: 'int', unsigned: true })
  dateKey!: number;

  @Column({ type: 'int' })
  capacity!: number;

  @Column({ type: 'int' })
  reserved!: number;

  @Column({ name: 'start_time_key', type: 'int', unsigned: true })
  startTimeKey!: number;

  @Column({ name: 'end_time_key', type: 'int', unsigned: true })
  endTimeKey!: number;

  @Column({ name: 'status_publish', type: 'tinyint', unsigned: true })
  statusPublish!: number;

  @Column({ name: 'accept_reservations', type: 'tinyint', unsigned: true })
  acceptReservations!: number;

  @Column({ name: 'published_date_key', type: 'int', unsigned: true })
  publishedDateKey!: number;

  @Column({ name: 'published_end_datetime', type: 'datetime', nullable: true })
  publishedEndDatetime!: Date | null;

  @Column({ name: 'status_id', type: 'int', unsigned: true })
  statusId!: number;
}

@Entity({ name: 'event_hours' })
export class PublicEventHour {
  @PrimaryGeneratedColumn({ name: 'event_hour_id', type: 'int', unsigned: true })
  id!: number;

  @Column({ name: 'event_date_id', type: 'int', unsigned: true })
  eventDateId!: number;

  @Column({ type: 'int' })
  capacity!: number;

  @Column({ type: 'int' })
  reserved!: number;

  @Column({ name: 'start_time_key', type: 'int', unsigned: true })
  startTimeKey!: number;

  @Column({ name: 'end_time_key', type: 'int' })
  endTimeKey!: number;

  @Column({ name: 'status_id', type: 'int', unsigned: true })
  statusId!: number;
}

@Entity({ name: 'event_slots' })
export class PublicEventSlot {
  @PrimaryGeneratedColumn({ name: 'event_slot_id', type: 'int', unsigned: true })
  id!: number;

  @Column({ name: 'event_hour_id', type: 'int', unsigned: true })
  eventHourId!: number;

  @Column({ type: 'int' })
  capacity!: number;

  @Column({ type: 'int' })
  reserved!: number;

  @Column({ name: 'start_time_key', type: 'int', unsigned: true })
  startTimeKey!: number;

  @Column({ name: 'end_time_key', type: 'int' })
  endTimeKey!: number;

  @Column({ name: 'status_id', type: 'int', unsigned: true })
  statusId!: number;
}

export const PUBLIC_ENTITIES = [
  DimTime,
  PublicEvent,
  PublicEventDate,
  PublicEventHour,
  PublicEventSlot,
];
