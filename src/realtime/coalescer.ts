import { Logger } from '@nestjs/common';

interface KeyState {
  dirty: boolean;
  running: boolean;
  lastStart: number;
  timer?: NodeJS.Timeout;
}

// Runs `work(key)` after changes to `key`, at most once per `intervalMs` per key: the first
// change runs at once (leading edge), a burst collapses into one run per interval, and a run
// always starts after the last change (trailing edge), so it reflects everything before it.
// A change that arrives while a run is in progress gets another run: that run may have read
// before the change.
export class Coalescer<K> {
  private readonly logger = new Logger(Coalescer.name);
  private readonly states = new Map<K, KeyState>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly intervalMs: number,
    private readonly work: (key: K) => Promise<void>,
  ) {}

  touch(key: K): void {
    if (this.closed) return;
    let state = this.states.get(key);
    if (!state) {
      state = { dirty: false, running: false, lastStart: Number.NEGATIVE_INFINITY };
      this.states.set(key, state);
    }
    state.dirty = true;
    if (!state.running && !state.timer) this.arm(key, state);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const state of this.states.values()) clearTimeout(state.timer);
    this.states.clear();
    await Promise.all([...this.inFlight]);
  }

  private arm(key: K, state: KeyState): void {
    if (this.closed) return;
    const delay = Math.max(0, state.lastStart + this.intervalMs - Date.now());
    state.timer = setTimeout(() => this.fire(key, state), delay);
  }

  private fire(key: K, state: KeyState): void {
    state.timer = undefined;
    if (!state.dirty) {
      // quiet for a whole interval: forget the key
      this.states.delete(key);
      return;
    }
    state.dirty = false;
    state.running = true;
    state.lastStart = Date.now();
    const run: Promise<void> = this.work(key)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'coalesced work failed'))
      .finally(() => {
        state.running = false;
        this.inFlight.delete(run);
        this.arm(key, state);
      });
    this.inFlight.add(run);
  }
}
