import {
  checkBody,
  checkUrl,
  HostileInputError,
  isBadText,
  MAX_ARRAY_LENGTH,
  MAX_BODY_DEPTH,
  utf8,
} from './hostile-input';

const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

describe('hostile input checks', () => {
  it('tells text from NUL and lone surrogates, keeping real pairs (emoji)', () => {
    expect(isBadText('José 🍞 Nguyễn')).toBe(false);
    expect(isBadText('a\u0000b')).toBe(true);
    expect(isBadText('a\uD800')).toBe(true);
    expect(isBadText('\uDC00a')).toBe(true);
    expect(isBadText('\uDFFF\uD800')).toBe(true);
  });

  it('accepts the bodies a client sends and refuses the ones no DTO should see', () => {
    expect(() =>
      checkBody({ memberIds: ['7', 8], eventDateId: 12, note: null, ok: true }),
    ).not.toThrow();
    expect(() => checkBody(nested(MAX_BODY_DEPTH))).not.toThrow();
    for (const bad of [
      [],
      'x',
      3,
      null,
      nested(MAX_BODY_DEPTH + 1),
      { ids: Array(MAX_ARRAY_LENGTH + 1).fill(1) },
      { id: 2 ** 53 },
      { id: -(2 ** 60) },
      JSON.parse('{"__proto__": {"x": 1}}'),
      { a: { constructor: 1 } },
      { ['k\u0000']: 1 },
      { a: ['ok', 'b\uD800'] },
    ]) {
      expect(() => checkBody(bad)).toThrow(HostileInputError);
    }
    expect(() => checkBody({ price: 1.5, big: 2 ** 53 - 1 })).not.toThrow();
  });

  it('refuses URLs that are not percent-encoded UTF-8 text', () => {
    expect(() => checkUrl('/api/v1/events?zip=43215&from=2026-12-01&q=caf%C3%A9+ok')).not.toThrow();
    for (const bad of ['/a/%00', '/a/%ZZ', '/a?x=%C0%AF', '/a?x=%ED%A0%80', '/a?x=%', '/a%FF']) {
      expect(() => checkUrl(bad)).toThrow(HostileInputError);
    }
  });

  it('refuses a body that is not valid UTF-8 as VALIDATION_FAILED', () => {
    expect(utf8(Buffer.from('{"a":"José"}'))).toBe('{"a":"José"}');
    expect(() => utf8(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });
});
