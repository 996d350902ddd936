'use strict';

// Latency and outcome bookkeeping for one scenario. Times are in milliseconds.

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

const round = (n, digits = 1) => (n === null || n === undefined ? null : Number(n.toFixed(digits)));

class Recorder {
  constructor() {
    this.latencies = [];
    this.byStatus = {};
    this.byCode = {};
    this.examples = {};
    this.networkErrors = 0;
    this.ok = 0;
    this.started = null;
    this.finished = null;
  }

  start() {
    this.started = performance.now();
  }

  stop() {
    this.finished = performance.now();
  }

  /** status is the HTTP status, or 0 for a network error; code is the body's error code when any. */
  record(ms, status, code, message) {
    this.latencies.push(ms);
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    if (status === 0) this.networkErrors++;
    else if (status < 400) this.ok++;
    if (code) this.byCode[code] = (this.byCode[code] ?? 0) + 1;
    if (code && message && !(code in this.examples))
      this.examples[code] = String(message).slice(0, 200);
  }

  summary() {
    const sorted = Float64Array.from(this.latencies).sort();
    const seconds = ((this.finished ?? performance.now()) - this.started) / 1000;
    const errors = {};
    for (const [status, n] of Object.entries(this.byStatus))
      if (Number(status) >= 400 || status === '0') errors[status] = n;
    const fiveXx = Object.entries(this.byStatus)
      .filter(([s]) => Number(s) >= 500)
      .reduce((sum, [, n]) => sum + n, 0);
    return {
      requests: this.latencies.length,
      ok: this.ok,
      seconds: round(seconds, 3),
      throughput: round(this.ok / seconds, 1),
      requestRate: round(this.latencies.length / seconds, 1),
      latencyMs: {
        p50: round(percentile(sorted, 50)),
        p95: round(percentile(sorted, 95)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted.length ? sorted[sorted.length - 1] : null),
      },
      byStatus: this.byStatus,
      errors,
      errorCodes: this.byCode,
      errorExamples: this.examples,
      fiveXx,
      networkErrors: this.networkErrors,
    };
  }
}

function latencySummary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : null),
  };
}

module.exports = { Recorder, percentile, latencySummary, round };
