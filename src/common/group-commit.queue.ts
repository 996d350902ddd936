/**
 * What a batch handler returns for each item, in the items' order: its value or its error, so
 * one request's failure is that request's answer and not its neighbours'.
 */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

export type BatchHandler<T, R> = (key: string, items: T[]) => Promise<Settled<R>[]>;

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit per key, without a timer. A request for an idle key runs at once as a batch of
 * one; while a batch for a key is in flight, new requests for that key wait; when it ends,
 * everything that waited (up to `maxBatch`, in arrival order) is the next batch. A storm makes
 * big batches by itself and a lone request is never delayed.
 *
 * It only orders work inside this process: nothing here guards capacity, order or idempotency
 * across instances (the database does), so two instances batching the same key independently
 * stay correct, they just batch less.
 */
export class GroupCommitQueue<T, R> {
  private readonly queues = new Map<string, Waiting<T, R>[]>();
  private readonly running = new Set<string>();

  constructor(
    private readonly handler: BatchHandler<T, R>,
    private readonly maxBatch: number,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new Error(`maxBatch must be a positive whole number, got ${maxBatch}`);
    }
  }

  run(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.queues.get(key) ?? [];
      queue.push({ item, resolve, reject });
      this.queues.set(key, queue);
      if (!this.running.has(key)) void this.drain(key);
    });
  }

  /** Requests waiting (not yet in a batch) for a key; for metrics and tests. */
  waiting(key: string): number {
    return this.queues.get(key)?.length ?? 0;
  }

  private async drain(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (;;) {
        const queue = this.queues.get(key);
        if (!queue || queue.length === 0) break;
        const batch = queue.splice(0, this.maxBatch);
        if (queue.length === 0) this.queues.delete(key);
        await this.runBatch(key, batch);
      }
    } finally {
      this.running.delete(key);
    }
  }

  private async runBatch(key: string, batch: Waiting<T, R>[]): Promise<void> {
    let results: Settled<R>[];
    try {
      results = await this.handler(
        key,
        batch.map((w) => w.item),
      );
    } catch (error) {
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const result = results[i];
      if (!result) w.reject(new Error(`batch for ${key} gave no answer for item ${i}`));
      else if (result.ok) w.resolve(result.value);
      else w.reject(result.error);
    });
  }
}
