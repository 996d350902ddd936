import { ageGroups, ageOn, checkInTimeProblem, median } from './admin.rules';

describe('admin rules', () => {
  it('counts age in whole years on the event day, birthday included', () => {
    expect(ageOn('2008-06-15', '2026-06-14')).toBe(17);
    expect(ageOn('2008-06-15', '2026-06-15')).toBe(18);
    expect(ageOn('1961-12-31', '2026-12-30')).toBe(64);
    expect(ageOn('1961-12-31', '2026-12-31')).toBe(65);
  });

  it('buckets children 0-17, adults 18-64, seniors 65+', () => {
    expect(
      ageGroups(
        ['2020-01-01', '2008-06-16', '2008-06-15', '1961-06-16', '1961-06-15'],
        '2026-06-15',
      ),
    ).toEqual({
      children: 2,
      adults: 2,
      seniors: 1,
    });
  });

  it('takes the median of odd and even lists, null for none', () => {
    expect(median([])).toBeNull();
    expect(median([30, 10, 20])).toBe(20);
    expect(median([40, 10, 20, 30])).toBe(25);
  });

  it('accepts a check-in time on the event day and not in the future', () => {
    const now = new Date('2026-06-15T12:00:00Z');
    expect(checkInTimeProblem(new Date('2026-06-15T08:00:00Z'), '2026-06-15', now)).toBeUndefined();
    expect(checkInTimeProblem(new Date('2026-06-14T23:59:59Z'), '2026-06-15', now)).toMatch(
      /event's day/,
    );
    expect(checkInTimeProblem(new Date('2026-06-15T12:05:00Z'), '2026-06-15', now)).toMatch(
      /future/,
    );
    expect(checkInTimeProblem(new Date('2026-06-15T12:00:30Z'), '2026-06-15', now)).toBeUndefined();
  });
});
