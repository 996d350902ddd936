import type { DataSource } from 'typeorm';

export interface PoolUsage {
  open?: number;
  idle?: number;
  in_use?: number;
  waiting?: number;
  limit?: number;
}

interface QueueLike {
  length?: unknown;
}

interface Mysql2PoolLike {
  _allConnections?: QueueLike;
  _freeConnections?: QueueLike;
  _connectionQueue?: QueueLike;
  config?: { connectionLimit?: unknown };
}

function lengthOf(queue: QueueLike | undefined): number | undefined {
  return typeof queue?.length === 'number' ? queue.length : undefined;
}

// Reads mysql2's pool internals, which are not a public API: every field is optional, and a
// driver upgrade that renames them makes the gauges disappear instead of breaking a scrape.
export function poolUsage(source: DataSource): PoolUsage {
  if (!source.isInitialized) return {};
  const pool = (source.driver as unknown as { pool?: Mysql2PoolLike }).pool;
  if (!pool) return {};
  const open = lengthOf(pool._allConnections);
  const idle = lengthOf(pool._freeConnections);
  const limit = pool.config?.connectionLimit;
  return {
    open,
    idle,
    in_use: open !== undefined && idle !== undefined ? open - idle : undefined,
    waiting: lengthOf(pool._connectionQueue),
    limit: typeof limit === 'number' ? limit : undefined,
  };
}
