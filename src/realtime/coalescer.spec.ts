import { Coalescer } from './coalescer';

describe(Coalescer.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const makeSut = (intervalMs = 250) => {
    const runs: { key: string; at: number }[] = [];
    let finish: (() => void) | undefined;
    let hold = false;
    const sut = new Coalescer<string>(intervalMs, (key) => {
      runs.push({ key, at: Date.now() });
      return hold ? new Promise<void>((resolve) => (finish = resolve)) : Promise.resolve();
    });
    return {
      sut,
      runs,
      holdRuns: () => (hold = true),
      finishRun: () => finish?.(),
    };
  };

  it('runs at once for a first change (leading edge)', async () => {
    const { sut, runs } = makeSut();
    sut.touch('a');
    await jest.advanceTimersByTimeAsync(0);
    expect(runs).toHaveLength(1);
  });

  it('collapses a burst into one run per interval and always runs after the last change', async () => {
    const { sut, runs } = makeSut();
    const start = Date.now();
    for (let i = 0; i < 200; i++) {
      sut.touch('a');
      await jest.advanceTimersByTimeAsync(5);
    }
    const lastTouch = Date.now();
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs.length).toBeLessThanOrEqual(Math.ceil((lastTouch - start) / 250) + 1);
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(runs[runs.length - 1].at).toBeGreaterThanOrEqual(lastTouch);
    for (let i = 1; i < runs.length; i++)
      expect(runs[i].at - runs[i - 1].at).toBeGreaterThanOrEqual(250);
  });

  it('runs again when a change arrives while a run is in progress', async () => {
    const { sut, runs, holdRuns, finishRun } = makeSut();
    holdRuns();
    sut.touch('a');
    await jest.advanceTimersByTimeAsync(0);
    sut.touch('a');
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toHaveLength(1);
    finishRun();
    await jest.advanceTimersByTimeAsync(0);
    expect(runs).toHaveLength(2);
  });

  it('keeps keys apart', async () => {
    const { sut, runs } = makeSut();
    sut.touch('a');
    sut.touch('b');
    await jest.advanceTimersByTimeAsync(0);
    expect(runs.map((r) => r.key).sort()).toEqual(['a', 'b']);
  });

  it('does nothing after close', async () => {
    const { sut, runs } = makeSut();
    sut.touch('a');
    await sut.close();
    sut.touch('a');
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toHaveLength(0);
  });
});
