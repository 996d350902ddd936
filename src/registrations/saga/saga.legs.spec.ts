import type { Registration } from '../registration.types';
import { legsOfChange } from './saga.legs';
import type { SagaPlan } from './saga.types';

function registration(overrides: Partial<Registration> = {}): Registration {
  const at = new Date('2026-12-01T10:00:00Z');
  return {
    id: '1',
    householdId: '2',
    eventId: 3,
    eventDateId: 10,
    eventHourId: 20,
    eventSlotId: 30,
    status: 'confirmed',
    partySize: 2,
    spots: 2,
    queuedAt: null,
    pendingSagaId: null,
    version: 1,
    createdBy: 'sub',
    createdAt: at,
    updatedAt: at,
    confirmedAt: at,
    cancelledAt: null,
    checkedInAt: null,
    specialRequirements: null,
    memberIds: ['5', '6'],
    waitlistPosition: null,
    ...overrides,
  };
}

function plan(overrides: Partial<SagaPlan> = {}): SagaPlan {
  return { eventHourId: 20, eventSlotId: 30, partySize: 2, spots: 2, ...overrides };
}

describe(legsOfChange.name, () => {
  it('a confirmed move with the same spots takes the new seat and releases the old: a net move', () => {
    const sut = legsOfChange(registration(), plan({ eventHourId: 21, eventSlotId: 31 }));
    expect(sut).toEqual({
      take: { eventDateId: 10, eventHourId: 21, eventSlotId: 31, spots: 2 },
      release: { eventDateId: 10, eventHourId: 20, eventSlotId: 30, spots: 2 },
      netMove: true,
    });
  });

  it('a confirmed move that also grows the party is not a net move', () => {
    const sut = legsOfChange(registration(), plan({ eventSlotId: 31, spots: 3 }));
    expect(sut.take?.spots).toBe(3);
    expect(sut.release?.spots).toBe(2);
    expect(sut.netMove).toBe(false);
  });

  it('a bigger party in place takes only the difference', () => {
    expect(legsOfChange(registration(), plan({ spots: 5 }))).toEqual({
      take: { eventDateId: 10, eventHourId: 20, eventSlotId: 30, spots: 3 },
      release: null,
      netMove: false,
    });
  });

  it('a smaller party in place releases only the difference', () => {
    expect(legsOfChange(registration(), plan({ spots: 1 }))).toEqual({
      take: null,
      release: { eventDateId: 10, eventHourId: 20, eventSlotId: 30, spots: 1 },
      netMove: false,
    });
  });

  it('a waitlisted move takes its whole party at the new slot and releases nothing', () => {
    const sut = legsOfChange(registration({ status: 'waitlisted' }), plan({ eventSlotId: 31 }));
    expect(sut).toEqual({
      take: { eventDateId: 10, eventHourId: 20, eventSlotId: 31, spots: 2 },
      release: null,
      netMove: false,
    });
  });

  it('a waitlisted party change moves no counter', () => {
    expect(legsOfChange(registration({ status: 'waitlisted' }), plan({ spots: 4 }))).toEqual({
      take: null,
      release: null,
      netMove: false,
    });
  });
});
