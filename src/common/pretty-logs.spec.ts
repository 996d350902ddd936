import { isStartUpChatter, prettyLine } from './pretty-logs';

describe('pretty logs (LOG_FORMAT=pretty)', () => {
  it('says a request in one short line: method, url, status, time', () => {
    const line = prettyLine({
      msg: 'request completed',
      req: { method: 'POST', url: '/api/v1/registrations' },
      res: { statusCode: 409 },
      responseTime: 42,
    });
    expect(line).toBe('POST /api/v1/registrations 409 42ms');
  });

  it('keeps the context and message of any other line', () => {
    expect(prettyLine({ msg: 'outbox started', context: 'OutboxDispatcher' })).toBe(
      '[OutboxDispatcher] outbox started',
    );
  });

  it("drops Nest's start-up narration, but never a warning or an error", () => {
    expect(isStartUpChatter({ context: 'RouterExplorer' }, 30)).toBe(true);
    expect(isStartUpChatter({ context: 'InstanceLoader' }, 30)).toBe(true);
    expect(isStartUpChatter({ context: 'RouterExplorer' }, 40)).toBe(false);
    expect(isStartUpChatter({ context: 'OutboxDispatcher' }, 30)).toBe(false);
    expect(isStartUpChatter('a bare message', 30)).toBe(false);
  });
});
