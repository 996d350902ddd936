import { GroupCommitQueue, Settled } from './group-commit.queue';

/** One read answers every caller of its key that waited for it, however many. */
const EVERY_CALLER = Number.MAX_SAFE_INTEGER;

/*
 * Reads shared among concurrent callers, never older than the call. On a GroupCommitQueue: a
 * call while no read of its key is in flight reads at once; calls that arrive while one is in
 * flight wait for it to end and then share the next read. So every caller gets a read that
 * started after it asked (a change committed before the call is always seen), and a storm of
 * identical reads costs one read per round trip instead of one per caller.
 *
 * A value is shared by the callers of one read, so it is deep-frozen: a caller that would
 * change it fails loudly instead of changing its neighbours' answer. A read that fails fails
 * every caller that shared it. Only for reads outside any transaction: a read inside a caller's
 * transaction sees that transaction and is never shared.
 */

/** `read` shared by concurrent calls of the same key; calls of different keys run apart. */
export function shareReadsPerKey<K extends string | number, V>(
  read: (key: K) => Promise<V>,
): (key: K) => Promise<V> {
  const queue = new GroupCommitQueue<K, V>(async (_, keys) => {
    const value = deepFreeze(await read(keys[0]));
    return keys.map((): Settled<V> => ({ ok: true, value }));
  }, EVERY_CALLER);
  return (key) => queue.run(String(key), key);
}

/**
 * `readMany` shared by concurrent calls, whatever their keys: one read of every key asked (at
 * most `maxKeys` callers per read). `readMany` answers each of its distinct keys, in order.
 */
export function shareReadsAcrossKeys<K extends string | number, V>(
  readMany: (keys: K[]) => Promise<V[]>,
  maxKeys: number,
): (key: K) => Promise<V> {
  const queue = new GroupCommitQueue<K, V>(async (_, keys) => {
    const distinct = [...new Set(keys)];
    const values = await readMany(distinct);
    if (values.length !== distinct.length) {
      throw new Error(`a shared read gave ${values.length} answers for ${distinct.length} keys`);
    }
    const byKey = new Map(distinct.map((key, i) => [key, deepFreeze(values[i])]));
    return keys.map((key): Settled<V> => ({ ok: true, value: byKey.get(key) as V }));
  }, maxKeys);
  return (key) => queue.run('all', key);
}

function deepFreeze<V>(value: V): V {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
