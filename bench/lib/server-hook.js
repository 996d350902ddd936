'use strict';

// Preloaded into the server (node -r) by the bench; talks to it over the IPC channel.
//  {benchCount: 'read'}      -> {benchCounts: {<database>: {<first keyword>: n}}}: the
//                               statements (round trips) sent through mysql2 so far.
//  {benchMemory: true}      -> {benchMemoryUsage}: process.memoryUsage() in MB, before and
//                               after a full GC (the server runs with --expose-gc for this).
//  {benchProfile: 'start'}   -> starts a fresh CPU profile (with BENCH_CPU_PROFILE_FILE),
//  {benchProfile: 'stop'}    -> writes it there.
// BENCH_EXPERIMENTS=jwt-key-object: see below.
// (Signals are taken: Nest's shutdown hooks listen to SIGUSR2 too, and --cpu-prof writes
// nothing when Nest re-raises SIGTERM.)

const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');

if (process.channel) {
  // the channel must not keep the server alive after SIGTERM
  process.channel.unref();

  const counts = {};
  try {
    // the package exports only its entry point: reach the base class through Connection
    const base = Object.getPrototypeOf(require('mysql2').Connection.prototype);
    for (const method of ['query', 'execute']) {
      const original = base[method];
      base[method] = function counted(sql, ...rest) {
        const text = typeof sql === 'string' ? sql : (sql?.sql ?? '');
        const keyword = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? '?';
        const db = this.config?.database ?? '?';
        counts[db] ??= {};
        counts[db][keyword] = (counts[db][keyword] ?? 0) + 1;
        return original.call(this, sql, ...rest);
      };
    }
  } catch {
    // another mysql2 layout: no counts
  }

  // What-if experiments (--experiment NAME): measure a suspected bottleneck's cost before
  // anyone changes the code.
  const experiments = (process.env.BENCH_EXPERIMENTS ?? '').split(',').filter(Boolean);
  if (experiments.includes('jwt-key-object')) {
    // jsonwebtoken, given a string secret, first tries createPublicKey on it (an OpenSSL
    // decoder lookup that throws) on every verify; a KeyObject skips that.
    const jwt = require('jsonwebtoken');
    const { createSecretKey } = require('node:crypto');
    const keys = new Map();
    const verify = jwt.verify;
    jwt.verify = function verifyWithKeyObject(token, key, ...rest) {
      if (typeof key === 'string' && !key.includes('-----BEGIN')) {
        if (!keys.has(key)) keys.set(key, createSecretKey(Buffer.from(key)));
        key = keys.get(key);
      }
      return verify.call(this, token, key, ...rest);
    };
  }

  const file = process.env.BENCH_CPU_PROFILE_FILE;
  let session;
  if (file) {
    session = new inspector.Session();
    session.connect();
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: 250 }),
    );
  }

  // WEB_CONCURRENCY > 1: this process is the cluster's supervisor and sends no statement; the
  // counts are the sum of every worker's (each worker preloads this hook too)
  const cluster = require('node:cluster');
  const workerCounts = () =>
    Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (worker) =>
          new Promise((resolve) => {
            const onMessage = (reply) => {
              if (!reply?.benchCounts) return;
              worker.off('message', onMessage);
              resolve(reply.benchCounts);
            };
            worker.on('message', onMessage);
            worker.send({ benchCount: 'read' });
          }),
      ),
    );
  const sumCounts = (all) => {
    const total = {};
    for (const one of all)
      for (const [db, byKeyword] of Object.entries(one))
        for (const [keyword, n] of Object.entries(byKeyword)) {
          total[db] ??= {};
          total[db][keyword] = (total[db][keyword] ?? 0) + n;
        }
    return total;
  };

  process.on('message', (msg) => {
    if (msg?.benchCount === 'read') {
      if (cluster.isPrimary && Object.keys(cluster.workers ?? {}).length > 0) {
        workerCounts().then((all) => process.send({ benchCounts: sumCounts([counts, ...all]) }));
      } else {
        process.send({ benchCounts: counts });
      }
    } else if (msg?.benchMemory) {
      // where the RSS is: V8 heap or outside it, before and after a full collection
      const mb = (m) =>
        Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v / 1048576)]));
      const before = mb(process.memoryUsage());
      if (typeof global.gc === 'function') global.gc();
      process.send({
        benchMemoryUsage: {
          before,
          afterGc: typeof global.gc === 'function' ? mb(process.memoryUsage()) : null,
        },
      });
    } else if (session && msg?.benchProfile === 'start') {
      session.post('Profiler.start');
    } else if (session && msg?.benchProfile === 'stop') {
      session.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(file, JSON.stringify(result.profile));
      });
    }
  });
}
