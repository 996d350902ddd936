import { InProcessThrottlerStorage } from './in-process-throttler.storage';

const MINUTE = 60_000;

describe(InProcessThrottlerStorage.name, () => {
  let now: number;
  let sut: InProcessThrottlerStorage;
  beforeEach(() => {
    now = Date.UTC(2025, 0, 6, 9, 0, 0);
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    sut = new InProcessThrottlerStorage();
  });
  afterEach(() => jest.restoreAllMocks());

  const hit = (key = 'ft:rl:default:read:address:10.0.0.1', limit = 3) =>
    sut.increment(key, MINUTE, limit);

  it('blocks the hit after the limit until the window that began with the first hit ends', async () => {
    expect(await hit()).toEqual({
      totalHits: 1,
      timeToExpire: 60,
      isBlocked: false,
      timeToBlockExpire: 0,
    });
    now += 20_000;
    await hit();
    await hit();
    now += 15_500;
    expect(await hit()).toEqual({
      totalHits: 4,
      timeToExpire: 25,
      isBlocked: true,
      timeToBlockExpire: 25,
    });
    // another key has its own window
    expect((await hit('ft:rl:default:read:address:10.0.0.2')).isBlocked).toBe(false);
    now += 24_500;
    expect(await hit()).toMatchObject({ totalHits: 1, isBlocked: false, timeToExpire: 60 });
  });

  it('never answers a Retry-After below one second', async () => {
    for (let i = 0; i < 4; i++) await hit();
    now += MINUTE - 1;
    expect(await hit()).toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
  });

  it('forgets the windows that ended, so idle clients hold no memory', async () => {
    for (let i = 0; i < 100; i++) await hit(`ft:rl:default:read:address:10.0.1.${i}`);
    now += MINUTE;
    await hit();
    const windows = (sut as unknown as { windows: Map<string, unknown> }).windows;
    expect([...windows.keys()]).toEqual(['ft:rl:default:read:address:10.0.0.1']);
  });
});
