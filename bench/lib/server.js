'use strict';

// The built server as a child process: start, wait until ready, sample RSS, stop.

const { spawn } = require('node:child_process');
const { createWriteStream, readFileSync } = require('node:fs');
const net = require('node:net');
const { join } = require('node:path');
const { request } = require('undici');

const ROOT = join(__dirname, '..', '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// The process and its children (the workers when WEB_CONCURRENCY > 1).
function tree(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number);
    return [pid, ...children.flatMap(tree)];
  } catch {
    return [pid];
  }
}

function rssMb(root) {
  const all = tree(root).map(rssMbOf);
  return all[0] === null ? null : all.reduce((sum, mb) => sum + (mb ?? 0), 0);
}

function cpuMs(root) {
  const all = tree(root).map(cpuMsOf);
  if (all[0] === null) return null;
  return all.reduce(
    (sum, cpu) => ({ user: sum.user + (cpu?.user ?? 0), system: sum.system + (cpu?.system ?? 0) }),
    { user: 0, system: 0 },
  );
}

function rssMbOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// CPU time (user and system) a process has used so far, in ms: robust to a noisy machine where
// wall-clock figures are not.
function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 Hz on Linux)
    return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
  } catch {
    return null;
  }
}

class ServerProcess {
  constructor(name, port, child, logFile) {
    this.name = name;
    this.port = port;
    this.child = child;
    this.logFile = logFile;
    this.origin = `http://127.0.0.1:${port}`;
    this.exited = false;
    this.exitCode = null;
    this.peakRss = 0;
    this.samples = [];
    child.on('exit', (code, signal) => {
      this.exited = true;
      this.exitCode = code ?? signal;
    });
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }

  sample() {
    if (this.exited) return null;
    const mb = rssMb(this.child.pid);
    if (mb !== null) {
      this.peakRss = Math.max(this.peakRss, mb);
      this.samples.push(mb);
    }
    return mb;
  }

  /** Starts a new measurement window for the peak. */
  resetPeak() {
    this.peakRss = this.sample() ?? 0;
  }

  rss() {
    return this.sample();
  }

  cpuMs() {
    return this.exited ? null : cpuMs(this.child.pid);
  }

  async waitReady(timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (this.exited)
        throw new Error(
          `${this.name} exited with ${this.exitCode} before it was ready; see ${this.logFile}`,
        );
      try {
        const res = await request(`${this.origin}/health/ready`, {
          headersTimeout: 2000,
          bodyTimeout: 2000,
        });
        const body = await res.body.text();
        if (res.statusCode === 200) return;
        last = `${res.statusCode} ${body.slice(0, 200)}`;
      } catch (error) {
        last = error.message;
      }
      await sleep(200);
    }
    throw new Error(
      `${this.name} was not ready after ${timeoutMs} ms (${last}); see ${this.logFile}`,
    );
  }

  /** To server-hook.js. */
  message(msg) {
    if (!this.exited && this.child.connected) this.child.send(msg);
  }

  /** Asks server-hook.js; resolves with the reply's `key`, or `fallback` after 5 s. */
  ask(msg, key, fallback) {
    if (this.exited || !this.child.connected) return Promise.resolve(fallback);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.child.off('message', onMessage);
        resolve(fallback);
      }, 5000);
      const onMessage = (m) => {
        if (!m || !(key in m)) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(m[key]);
      };
      this.child.on('message', onMessage);
      this.child.send(msg);
    });
  }

  /** Statements sent to MariaDB so far, by database and first keyword. */
  queryCounts() {
    return this.ask({ benchCount: 'read' }, 'benchCounts', {});
  }

  /** process.memoryUsage() in MB, before and after a full GC. */
  memory() {
    return this.ask({ benchMemory: true }, 'benchMemoryUsage', null);
  }

  /** SIGTERM (the server drains and exits), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000) {
    clearInterval(this.timer);
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timeout = sleep(graceMs).then(() => 'timeout');
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

/** Starts `node <dist>/main.js` with `env` on a free port and waits for /health/ready. */
async function startServer(name, env, { dist, resultsDir, cpuProfileFile }) {
  const port = await freePort();
  const logFile = join(resultsDir, `server-${name}.log`);
  const log = createWriteStream(logFile);
  const childEnv = { ...process.env, ...env, PORT: String(port) };
  if (cpuProfileFile) childEnv.BENCH_CPU_PROFILE_FILE = cpuProfileFile;
  // --expose-gc only lets server-hook.js collect on request, after the RSS figures are taken;
  // the young generation's cap is the one the Dockerfile and `npm start` run with
  const args = [
    '--max-semi-space-size=16',
    '--expose-gc',
    '-r',
    join(__dirname, 'server-hook.js'),
    join(dist, 'main.js'),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const server = new ServerProcess(name, port, child, logFile);
  await server.waitReady();
  return server;
}

module.exports = { startServer, freePort, rssMb, cpuMs, sleep };
