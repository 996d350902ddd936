import fc from 'fast-check';
import { GroupCommitQueue, Settled } from './group-commit.queue';

// A handler whose batches finish only when the test says so, recording what each batch held.
function makeSut(maxBatch = 100, fail?: (item: number) => boolean) {
  const batches: { key: string; items: number[] }[] = [];
  const pending: (() => void)[] = [];
  const sut = new GroupCommitQueue<number, string>(async (key, items) => {
    batches.push({ key, items: [...items] });
    await new Promise<void>((resolve) => pending.push(resolve));
    return items.map((i): Settled<string> =>
      fail?.(i) ? { ok: false, error: new Error(`no ${i}`) } : { ok: true, value: `${key}:${i}` },
    );
  }, maxBatch);
  const finishOne = async () => {
    pending.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { sut, batches, finishOne, inFlight: () => pending.length };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe(GroupCommitQueue.name, () => {
  it('runs a lone request at once, as a batch of one', async () => {
    const { sut, batches, finishOne } = makeSut();
    const answer = sut.run('d1', 7);
    await tick();
    expect(batches).toEqual([{ key: 'd1', items: [7] }]);
    await finishOne();
    await expect(answer).resolves.toBe('d1:7');
  });

  it('queues what arrives while a batch is in flight and runs it all as the next batch', async () => {
    const { sut, batches, finishOne } = makeSut();
    const first = sut.run('d1', 1);
    await tick();
    const later = [2, 3, 4].map((i) => sut.run('d1', i));
    await tick();
    expect(batches).toHaveLength(1);
    expect(sut.waiting('d1')).toBe(3);
    await finishOne();
    expect(batches[1]).toEqual({ key: 'd1', items: [2, 3, 4] });
    await finishOne();
    await expect(first).resolves.toBe('d1:1');
    await expect(Promise.all(later)).resolves.toEqual(['d1:2', 'd1:3', 'd1:4']);
  });

  it('keys do not wait on each other', async () => {
    const { sut, batches, inFlight } = makeSut();
    void sut.run('d1', 1);
    void sut.run('d2', 2);
    await tick();
    expect(batches.map((b) => b.key)).toEqual(['d1', 'd2']);
    expect(inFlight()).toBe(2);
  });

  it('caps a batch at maxBatch, keeping arrival order', async () => {
    const { sut, batches, finishOne } = makeSut(2);
    void sut.run('d', 0);
    await tick();
    for (let i = 1; i <= 5; i++) void sut.run('d', i);
    await finishOne();
    await finishOne();
    await finishOne();
    expect(batches.map((b) => b.items)).toEqual([[0], [1, 2], [3, 4], [5]]);
  });

  it("one item's failure is that item's answer only", async () => {
    const { sut, finishOne } = makeSut(10, (i) => i === 2);
    void sut.run('d', 0);
    await tick();
    const answers = [1, 2, 3].map((i) => sut.run('d', i).then(String, (e: Error) => e.message));
    await finishOne();
    await finishOne();
    await expect(Promise.all(answers)).resolves.toEqual(['d:1', 'no 2', 'd:3']);
  });

  it('a handler that throws rejects its whole batch and the queue goes on', async () => {
    let calls = 0;
    const sut = new GroupCommitQueue<number, number>((_key, items) => {
      calls++;
      if (calls === 1) return Promise.reject(new Error('down'));
      return Promise.resolve(items.map((i) => ({ ok: true as const, value: i })));
    }, 10);
    await expect(sut.run('d', 1)).rejects.toThrow('down');
    await expect(sut.run('d', 2)).resolves.toBe(2);
  });

  it('refuses a cap that is not a positive whole number', () => {
    expect(() => new GroupCommitQueue(() => Promise.resolve([]), 0)).toThrow(/maxBatch/);
  });

  it('property: every item is answered once with its own value, each batch is within the cap, per key in arrival order, and one batch per key at a time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        // arrivals: which key, and how many handler steps pass before the next arrival
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(2)), {
          minLength: 1,
          maxLength: 40,
        }),
        async (maxBatch, arrivals) => {
          const active = new Map<string, number>();
          const seen: { key: string; items: number[] }[] = [];
          let overlap = false;
          const sut = new GroupCommitQueue<number, number>(async (key, items) => {
            active.set(key, (active.get(key) ?? 0) + 1);
            if (active.get(key)! > 1) overlap = true;
            seen.push({ key, items: [...items] });
            await tick();
            active.set(key, active.get(key)! - 1);
            return items.map((i) => ({ ok: true as const, value: i * 10 }));
          }, maxBatch);
          const answers: Promise<number>[] = [];
          for (const [n, [key, wait]] of arrivals.entries()) {
            answers.push(sut.run(key, n));
            for (let i = 0; i < wait; i++) await tick();
          }
          const values = await Promise.all(answers);
          expect(values).toEqual(arrivals.map((_, n) => n * 10));
          expect(overlap).toBe(false);
          for (const b of seen) expect(b.items.length).toBeLessThanOrEqual(maxBatch);
          for (const key of ['a', 'b', 'c']) {
            const order = seen.filter((b) => b.key === key).flatMap((b) => b.items);
            const expected = arrivals.flatMap(([k], n) => (k === key ? [n] : []));
            expect(order).toEqual(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
