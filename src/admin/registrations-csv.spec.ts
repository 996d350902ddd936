import {
  contentDisposition,
  exportFileName,
  exportTimeZone,
  localTimeFormatter,
} from './registrations-csv';

describe('registrations CSV', () => {
  it("uses the schedule's zone, and UTC when it has none or one nobody knows", () => {
    expect(exportTimeZone('America/New_York')).toBe('America/New_York');
    expect(exportTimeZone(' America/Chicago ')).toBe('America/Chicago');
    expect(exportTimeZone('')).toBe('UTC');
    expect(exportTimeZone('Eastern-ish')).toBe('UTC');
  });

  it('writes instants on the local wall clock, across daylight saving', () => {
    const ny = localTimeFormatter('America/New_York');
    expect(ny(new Date('2026-01-15T14:05:09Z'))).toBe('2026-01-15 09:05:09');
    expect(ny(new Date('2026-07-04T13:05:00Z'))).toBe('2026-07-04 09:05:00');
    expect(ny(new Date('2026-12-04T03:30:00Z'))).toBe('2026-12-03 22:30:00');
    expect(ny(null)).toBeNull();
    expect(localTimeFormatter('UTC')(new Date('2026-12-03T00:00:00Z'))).toBe('2026-12-03 00:00:00');
  });

  it('names the file after the event and the date, safe in Content-Disposition', () => {
    expect(exportFileName('Downtown Community Pantry', '2026-12-03')).toEqual({
      ascii: 'downtown-community-pantry-2026-12-03.csv',
      utf8: 'downtown-community-pantry-2026-12-03.csv',
    });
    const name = exportFileName(`Zoë's "Pantry"\r\n; 李`, '2026-12-03');
    expect(name).toEqual({
      ascii: 'zoe-s-pantry-2026-12-03.csv',
      utf8: 'zoë-s-pantry-李-2026-12-03.csv',
    });
    expect(contentDisposition(name)).toBe(
      `attachment; filename="zoe-s-pantry-2026-12-03.csv"; filename*=UTF-8''zo%C3%AB-s-pantry-%E6%9D%8E-2026-12-03.csv`,
    );
    expect(exportFileName('李', '2026-12-03').ascii).toBe('event-2026-12-03.csv');
    expect(exportFileName('', '2026-12-03').utf8).toBe('event-2026-12-03.csv');
  });
});
