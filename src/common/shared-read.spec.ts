import { shareReadsAcrossKeys, shareReadsPerKey } from './shared-read';

/** A read whose calls are recorded and end only when the test says so. */
function controlledRead<K, V>() {
  const calls: { keys: K[]; end: (value: V) => void; fail: (error: unknown) => void }[] = [];
  const read = (keys: K[]) =>
    new Promise<V>((resolve, reject) => calls.push({ keys, end: resolve, fail: reject }));
  return { calls, read };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe(shareReadsPerKey.name, () => {
  it('a lone call reads at once; calls while it is in flight share the next read', async () => {
    const { calls, read } = controlledRead<number, { n: number }>();
    const sut = shareReadsPerKey((key: number) => read([key]));

    const lead = sut(7);
    expect(calls.map((c) => c.keys)).toEqual([[7]]);
    const queued = [sut(7), sut(7), sut(7)];
    await flush();
    expect(calls).toHaveLength(1);

    calls[0].end({ n: 1 });
    await expect(lead).resolves.toEqual({ n: 1 });
    await flush();
    // the queued calls asked after the first read started: they get a read of their own
    expect(calls).toHaveLength(2);
    calls[1].end({ n: 2 });
    await expect(Promise.all(queued)).resolves.toEqual([{ n: 2 }, { n: 2 }, { n: 2 }]);
  });

  it('keys run apart: a call for another key is not held up by one in flight', () => {
    const { calls, read } = controlledRead<number, number>();
    const sut = shareReadsPerKey((key: number) => read([key]));

    void sut(1);
    void sut(2);
    expect(calls.map((c) => c.keys)).toEqual([[1], [2]]);
  });

  it('the shared value is deep-frozen: no caller can change what another one got', async () => {
    const { calls, read } = controlledRead<number, { hours: { slots: number[] }[] }>();
    const sut = shareReadsPerKey((key: number) => read([key]));

    const got = sut(1);
    calls[0].end({ hours: [{ slots: [1, 2] }] });
    const value = await got;
    expect(() => value.hours[0].slots.push(3)).toThrow(TypeError);
    expect(value.hours[0].slots).toEqual([1, 2]);
  });

  it('a read that fails fails every caller that shared it, and the next call reads again', async () => {
    const { calls, read } = controlledRead<number, number>();
    const sut = shareReadsPerKey((key: number) => read([key]));

    const lead = sut(1);
    const queued = [sut(1), sut(1)];
    calls[0].end(1);
    await lead;
    await flush();
    const failure = new Error('gone');
    calls[1].fail(failure);
    for (const call of queued) await expect(call).rejects.toBe(failure);

    const after = sut(1);
    expect(calls).toHaveLength(3);
    calls[2].end(3);
    await expect(after).resolves.toBe(3);
  });
});

describe(shareReadsAcrossKeys.name, () => {
  it('calls of any keys while a read is in flight: one read of their distinct keys, each its own answer', async () => {
    const { calls, read } = controlledRead<string, string[]>();
    const sut = shareReadsAcrossKeys((keys: string[]) => read(keys), 10);

    const lead = sut('a');
    const queued = ['b', 'c', 'b', 'd'].map((key) => sut(key));
    expect(calls.map((c) => c.keys)).toEqual([['a']]);
    calls[0].end(['A']);
    await expect(lead).resolves.toBe('A');
    await flush();

    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1].end(['B', 'C', 'D']);
    await expect(Promise.all(queued)).resolves.toEqual(['B', 'C', 'B', 'D']);
  });

  it('at most maxKeys callers per read: the rest are the read after', async () => {
    const { calls, read } = controlledRead<number, number[]>();
    const sut = shareReadsAcrossKeys((keys: number[]) => read(keys), 2);

    const all = [1, 2, 3, 4, 5].map((key) => sut(key));
    calls[0].end([10]);
    await flush();
    calls[1].end([20, 30]);
    await flush();
    calls[2].end([40, 50]);
    await expect(Promise.all(all)).resolves.toEqual([10, 20, 30, 40, 50]);
    expect(calls.map((c) => c.keys)).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('a read that answers fewer keys than it was asked fails its callers', async () => {
    const { calls, read } = controlledRead<number, number[]>();
    const sut = shareReadsAcrossKeys((keys: number[]) => read(keys), 10);

    const got = sut(1);
    calls[0].end([]);
    await expect(got).rejects.toThrow('a shared read gave 0 answers for 1 keys');
  });
});
