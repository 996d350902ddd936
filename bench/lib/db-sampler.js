'use strict';

// While a scenario runs, polls MariaDB's process list for the statements our databases are
// executing or waiting on. Statements seen most often are where the time goes (a lock
// queue shows up as many identical statements in "Updating" or "Sending data").

function normalize(sql) {
  return sql
    .replace(/\s+/g, ' ')
    .replace(/'(?:[^'\\]|\\.)*'/g, '?')
    .replace(/\b\d+(\.\d+)?\b/g, '?')
    .replace(/\(\?(?:, ?\?)+\)/g, '(?…)')
    .trim()
    .slice(0, 160);
}

class DbSampler {
  constructor(pool, databases, intervalMs = 100) {
    this.pool = pool;
    this.databases = databases;
    this.intervalMs = intervalMs;
    this.timer = undefined;
    this.counts = new Map();
    this.samples = 0;
    this.busy = false;
  }

  start() {
    this.counts.clear();
    this.samples = 0;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    return this;
  }

  async sample() {
    if (this.busy) return;
    this.busy = true;
    try {
      const [rows] = await this.pool.query(
        `SELECT DB AS db, STATE AS state, INFO AS info FROM information_schema.PROCESSLIST
          WHERE DB IN (?) AND COMMAND <> 'Sleep' AND INFO IS NOT NULL AND ID <> CONNECTION_ID()`,
        [this.databases],
      );
      // a connection inside a transaction but idle: the app holds locks while it does something else
      const [idle] = await this.pool.query(
        `SELECT p.DB AS db, COUNT(*) AS n FROM information_schema.INNODB_TRX t
           JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
          WHERE p.DB IN (?) AND p.COMMAND = 'Sleep' GROUP BY p.DB`,
        [this.databases],
      );
      for (const r of idle) {
        const key = `${r.db.endsWith('_pub') ? 'public' : 'private'} | (idle in transaction) |`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + Number(r.n));
      }
      this.samples++;
      for (const r of rows) {
        const key = `${r.db.endsWith('_pub') ? 'public' : 'private'} | ${r.state || '-'} | ${normalize(r.info)}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      }
    } catch {
      // a missed sample is fine
    } finally {
      this.busy = false;
    }
  }

  /** Top statements: `avgActive` is how many were in flight on average. */
  stop(top = 12) {
    clearInterval(this.timer);
    const samples = Math.max(1, this.samples);
    return {
      samples: this.samples,
      top: [...this.counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([statement, n]) => ({ avgActive: Number((n / samples).toFixed(2)), statement })),
    };
  }
}

module.exports = { DbSampler };
