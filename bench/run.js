'use strict';

// `npm run bench [-- --only rush,reads] [--cpu-prof]`: the "9:00 rush" benchmark.
// Builds its own scratch databases, starts the built server as child processes, runs the
// scenarios, checks correctness in the databases, writes bench/results/latest.{json,md},
// and drops everything it created, also on error or Ctrl-C. See bench/README.md.

const { execSync } = require('node:child_process');
const {
  cpSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const os = require('node:os');
const { join } = require('node:path');
const { randomBytes } = require('node:crypto');
const { SERVER, createDatabases, seedDimTimes, createHouseholds } = require('./lib/setup');
const { startServer, sleep } = require('./lib/server');
const { pool } = require('./lib/http');
const { summarize } = require('./lib/profile');
const { DbSampler } = require('./lib/db-sampler');

const ROOT = join(__dirname, '..');
const RESULTS = join(__dirname, 'results');
const SCENARIOS = ['ceiling', 'households', 'rush', 'spread', 'churn', 'reads', 'push'];

function parseArgs(argv) {
  const opts = { only: new Set(SCENARIOS), cpuProf: false, keepDatabases: false };
  const num = (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return fallback;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
    return v;
  };
  const onlyArg = argv.find((a) => a.startsWith('--only'));
  if (onlyArg) {
    const list = onlyArg.includes('=') ? onlyArg.split('=')[1] : argv[argv.indexOf(onlyArg) + 1];
    const names = (list ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = names.filter((n) => !SCENARIOS.includes(n));
    if (names.length === 0 || unknown.length)
      throw new Error(`--only takes a list of: ${SCENARIOS.join(',')}`);
    opts.only = new Set(names);
  }
  opts.cpuProf = argv.includes('--cpu-prof');
  opts.keepDatabases = argv.includes('--keep-databases');
  opts.dbSample = !argv.includes('--no-db-sample');
  // --env KEY=VALUE (repeatable): extra server configuration, e.g. SCHEDULE_CACHE_MS=500
  opts.serverEnv = {};
  argv.forEach((a, i) => {
    if (a !== '--env') return;
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(argv[i + 1] ?? '');
    if (!m) throw new Error('--env takes KEY=VALUE');
    opts.serverEnv[m[1]] = m[2];
  });
  const experiment = argv.indexOf('--experiment');
  opts.experiments =
    experiment === -1 ? [] : (argv[experiment + 1] ?? '').split(',').filter(Boolean);
  const knownExperiments = ['jwt-key-object'];
  if (opts.experiments.some((e) => !knownExperiments.includes(e)))
    throw new Error(`--experiment takes: ${knownExperiments.join(',')}`);
  opts.spreadSeconds = num('spread-seconds', 20);
  opts.readSeconds = num('read-seconds', 10);
  opts.ceilingSeconds = num('ceiling-seconds', 10);
  opts.householdPool = num('households', 30_000);
  opts.maxMinutes = num('max-minutes', 10);
  return opts;
}

// Everything to undo, newest first; runs once whatever the way out.
const cleanups = [];
let cleaning;
function onCleanup(fn) {
  cleanups.unshift(fn);
}
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups) {
      try {
        await fn();
      } catch (error) {
        console.error(`cleanup: ${error.message}`);
      }
    }
  })();
  return cleaning;
}
const children = new Set();
process.on('exit', () => {
  for (const c of children) if (!c.exited) c.child.kill('SIGKILL');
});
// Set on Ctrl-C, SIGTERM or the watchdog: load loops stop, no further scenario starts.
const abort = { aborted: false };
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (abort.aborted) return;
    abort.aborted = true;
    console.error(`\n${signal}: stopping servers and dropping databases`);
    void cleanup().finally(() => process.exit(130));
  });
}

// A complete build ends with dist/.tsbuildinfo; a copy is good when that file did not change
// while copying (no build started or finished meanwhile). Waits out a build in progress.
async function snapshotDist(target, log) {
  const source = join(ROOT, 'dist');
  const stamp = () => {
    try {
      return statSync(join(source, '.tsbuildinfo')).mtimeMs;
    } catch {
      return null;
    }
  };
  const deadline = Date.now() + 180_000;
  for (let announced = false; ; announced = true) {
    const before = stamp();
    if (before !== null) {
      rmSync(target, { recursive: true, force: true });
      cpSync(source, target, { recursive: true });
      if (
        stamp() === before &&
        existsSync(join(target, 'main.js')) &&
        existsSync(join(target, 'database', 'migrate.js'))
      )
        return;
    }
    if (Date.now() > deadline)
      throw new Error('dist/ stayed incomplete for 3 minutes: run `npm run build`');
    if (!announced) log('dist/ is being rebuilt; waiting for a complete build');
    await sleep(2000);
  }
}

function machine(mariadbVersion) {
  let commit = null;
  try {
    commit = execSync('git rev-parse --short HEAD', {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    totalMemoryMb: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    mariadb: mariadbVersion,
    commit,
  };
}

function goals(results) {
  const { ceiling, rush, spread, churn, reads, push } = results.scenarios;
  const ratio = (a, b) => (a && b ? Number((a / b).toFixed(3)) : null);
  const rushRatio = ratio(rush?.throughput, ceiling?.rush?.throughput);
  const spreadRatio = ratio(spread?.throughput, ceiling?.spread?.throughput);
  const list = [];
  const goal = (name, ran, pass, detail) =>
    list.push({
      name,
      result: !ran ? 'not run' : pass ? 'PASS' : 'FAIL',
      detail: ran ? detail : '',
    });
  // the goals of issue 11, same run, same machine
  const perRequest = (r) => r?.profile?.db?.statements?.perRequest;
  const statements = (per) => (per ? Number(per.public) + Number(per.private) : null);
  const rushPer = perRequest(rush);
  const churnPer = perRequest(churn);
  goal('rush_ratio >= 1.0', rushRatio !== null, rushRatio >= 1.0, `rush_ratio = ${rushRatio}`);
  goal(
    'rush p99 < 1 s (1,000 at once)',
    !!rush,
    rush?.latencyMs.p99 < 1000,
    `p99 ${rush?.latencyMs.p99} ms`,
  );
  goal(
    'rush per registration: server CPU <= 1.5 ms, statements <= 6',
    !!rushPer,
    Number(rushPer?.serverCpuMs) <= 1.5 && statements(rushPer) <= 6,
    rushPer
      ? `${rushPer.serverCpuMs} ms CPU, ${statements(rushPer).toFixed(1)} statements (public ${rushPer.public}, private ${rushPer.private})`
      : '',
  );
  goal(
    'spread p99 < 200 ms and spread throughput >= half the ceiling',
    !!spread && spreadRatio !== null,
    spread?.latencyMs.p99 < 200 && spreadRatio >= 0.5,
    `p99 ${spread?.latencyMs.p99} ms, spread_ratio = ${spreadRatio}`,
  );
  goal(
    'churn p99 < 1 s and <= 20 statements per request',
    !!churn && !churn.skipped && !!churnPer,
    churn?.latencyMs?.p99 < 1000 && statements(churnPer) <= 20,
    churnPer
      ? `p99 ${churn.latencyMs.p99} ms, ${statements(churnPer).toFixed(1)} statements per request`
      : '',
  );
  goal(
    'churn counters exact, promotions in order',
    !!churn && !churn.skipped,
    churn?.checks?.ok === true,
    churn?.skipped ?? churnDetail(churn),
  );
  goal(
    'reads >= 5000 req/s and p99 < 50 ms',
    !!reads,
    reads?.throughput >= 5000 && reads?.latencyMs.p99 < 50,
    `${reads?.throughput} req/s, p99 ${reads?.latencyMs.p99} ms`,
  );
  goal(
    'push, commit to seen, p99 < 300 ms (500 subscribers, two instances, under the rush)',
    !!push && !push.skipped,
    push?.pushDelayMs?.count > 0 && push.commitToSeenMs.p99 < 300 && push.checks.allConverged,
    push?.pushDelayMs
      ? `commit (confirmed_at) to seen: p99 ${push.commitToSeenMs.p99} ms; receipt - at: p99 ${push.pushDelayMs.p99} ms over ${push.pushDelayMs.count} pushes; ${push.convergedSubscribers}/${push.subscribers} ended on the final figures`
      : '',
  );
  goal(
    'RSS < 200 MB after the rush',
    !!rush,
    rush?.rssAfterMb < 200,
    `${rush?.rssAfterMb?.toFixed(0)} MB 1 s after, connections still open; ${rush?.rssAfterCloseMb?.toFixed(0)} MB once closed; peak ${rush?.peakRssMb?.toFixed(0)} MB; idle before ${results.idleRssMb?.toFixed(0)} MB${
      rush?.memory
        ? `; V8 heap used ${rush.memory.before.heapUsed} MB of ${rush.memory.before.heapTotal}, ${rush.memory.afterGc?.heapUsed} MB after a full GC (RSS then ${rush.memory.rssAfterGcMb?.toFixed(0)} MB)`
        : ''
    }`,
  );
  const correctness = Object.entries(results.scenarios)
    .filter(([name, r]) => name !== 'ceiling' && r && !r.skipped)
    .map(([name, r]) => {
      const c = r.checks ?? {};
      if ((r.networkErrors ?? 0) + (r.http?.networkErrors ?? 0) > 0)
        c.networkErrors = (r.networkErrors ?? 0) + (r.http?.networkErrors ?? 0);
      const fiveXx = (r.fiveXx ?? 0) + (r.http?.fiveXx ?? 0);
      const bad = [];
      if (fiveXx) {
        const refused = r.profile?.db?.refusedConnections;
        bad.push(
          `${fiveXx} 5xx${refused ? ` (MariaDB refused ${refused} connections for max_connections meanwhile, whoever asked)` : ''}`,
        );
      }
      if (c.countersExact === false) bad.push(`${c.mismatchCount} counters differ`);
      if (c.neverAboveCapacity === false) bad.push('above capacity');
      if (c.waitlistInOrder === false)
        bad.push(
          `waitlist out of order (${c.waitlistInversions} inversions, ${c.missingQueuedAt} without queued_at or place, ${c.sharedPlaces} shared places)`,
        );
      if (c.confirmedEqualsCapacity === false)
        bad.push(`confirmed ${c.statuses?.confirmed ?? 0} != capacity ${c.capacity}`);
      if (c.pending) bad.push(`${c.pending} left pending`);
      if (c.networkErrors) bad.push(`${c.networkErrors} network errors`);
      if (r.serverExited) bad.push(`server exited (${r.serverExited})`);
      return { name, bad };
    });
  for (const { name, bad } of correctness)
    goal(`${name}: correct, zero 5xx`, true, bad.length === 0, bad.join('; ') || 'ok');
  return { rushRatio, spreadRatio, list };
}

function churnDetail(churn) {
  if (!churn) return '';
  const c = churn.checks;
  return `confirmed ${c.statuses.confirmed ?? 0}/${c.capacity}, counters ${c.countersExact ? 'exact' : 'differ'}, promoted in order ${c.promotedInOrder}, newcomers all waitlisted ${c.newcomersAllWaitlisted}`;
}

const fmt = (v, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits);
const errs = (r) => {
  const e = Object.entries(r?.errors ?? {});
  return e.length ? e.map(([s, n]) => `${s === '0' ? 'net' : s}×${n}`).join(' ') : '0';
};

function markdown(results) {
  const m = results.machine;
  const s = results.scenarios;
  const row = (name, r, extra = '') =>
    !r?.latencyMs
      ? `| ${name} | – | – | – | – | – | – | ${r?.skipped ?? 'not run'} |`
      : `| ${name} | ${fmt(r.throughput)} | ${fmt(r.latencyMs.p50, 1)} | ${fmt(r.latencyMs.p95, 1)} | ${fmt(r.latencyMs.p99, 1)} | ${errs(r)} | ${fmt(r.peakRssMb)} | ${extra} |`;
  const lines = [
    `# Benchmark: the 9:00 rush`,
    '',
    `${results.options.experiments.length ? `**experiments: ${results.options.experiments.join(', ')}** · ` : ''}${
      Object.keys(results.options.serverEnv).length
        ? `**server env: ${Object.entries(results.options.serverEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}** · `
        : ''
    }${m.date} · ${m.nproc} cores (${m.cpu}) · ${fmt(m.totalMemoryMb / 1024, 1)} GB · Node ${m.node} · MariaDB ${m.mariadb} · commit ${m.commit ?? '?'}`,
    '',
    '| scenario | ops/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB | notes |',
    '| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |',
  ];
  if (s.ceiling) {
    lines.push(
      row(
        'ceiling (rush shape)',
        s.ceiling.rush,
        `raw mysql2, pools ${s.ceiling.pools.public}+${s.ceiling.pools.private}`,
      ),
    );
    lines.push(
      row(
        'ceiling (spread shape)',
        s.ceiling.spread,
        `${results.options.spreadClients} loops, 200 slots`,
      ),
    );
  }
  if (s.households)
    lines.push(row('households (HTTP)', s.households, `${s.households.requests} created`));
  if (s.rush)
    lines.push(
      row(
        '1 rush',
        s.rush,
        `${results.options.rushHouseholds} at once, cap ${results.options.rushCapacity}; RSS after ${fmt(s.rush.rssAfterMb)} MB`,
      ),
    );
  if (s.spread)
    lines.push(
      row('2 spread', s.spread, `${results.options.spreadClients} clients, ${s.spread.seconds}s`),
    );
  if (s.churn)
    lines.push(
      row(
        '3 churn',
        s.churn,
        s.churn.shape
          ? `${s.churn.shape.cancelConfirmed + s.churn.shape.cancelWaitlisted} cancels + ${s.churn.shape.newcomers} new`
          : '',
      ),
    );
  if (s.reads) lines.push(row('4 reads', s.reads, `${results.options.readClients} clients`));
  if (s.push?.skipped) lines.push(row('5 push', s.push));
  else if (s.push) {
    const p = s.push;
    lines.push(
      row(
        '5 push (rush, 2 instances)',
        { ...p.http, peakRssMb: p.peakRssMb },
        `push receipt - at p50/p95/p99 ${fmt(p.pushDelayMs.p50, 1)}/${fmt(p.pushDelayMs.p95, 1)}/${fmt(p.pushDelayMs.p99, 1)} ms; commit to seen ${fmt(p.commitToSeenMs.p50, 1)}/${fmt(p.commitToSeenMs.p95, 1)}/${fmt(p.commitToSeenMs.p99, 1)} ms; ${p.pushDelayMs.count} pushes to ${p.connected} subscribers`,
      ),
    );
  }
  lines.push(
    '',
    `rush_ratio = ${results.goals.rushRatio} · spread_ratio = ${results.goals.spreadRatio}`,
    '',
    '| goal | result | detail |',
    '| --- | --- | --- |',
  );
  for (const g of results.goals.list) lines.push(`| ${g.name} | ${g.result} | ${g.detail} |`);
  const profiled = Object.entries(s).flatMap(([name, r]) =>
    name === 'ceiling'
      ? [
          ['ceiling rush', r?.rush],
          ['ceiling spread', r?.spread],
        ]
      : [[name, r]],
  );
  const where = [];
  for (const [name, r] of profiled) {
    const cpu = r?.profile?.cpu?.byPackage
      ?.slice(0, 6)
      .map((p) => `${p.name} ${p.pct}%`)
      .join(', ');
    const db = r?.profile?.db?.top
      ?.slice(0, 3)
      .map((t) => `${t.avgActive} × \`${t.statement.slice(0, 90)}\``)
      .join('<br>');
    const per = r?.profile?.db?.statements?.perRequest;
    const trips = per
      ? `${per.serverCpuMs} ms CPU (${per.serverSystemCpuMs} kernel); statements: public ${per.public} (${per.publicCommits} commits), private ${per.private} (${per.privateCommits} commits)`
      : '–';
    if (cpu || db) where.push(`| ${name} | ${trips} | ${cpu ?? '–'} | ${db || '–'} |`);
  }
  if (where.length) {
    lines.push(
      '',
      '### Where the time goes',
      '',
      '| scenario | per request: server CPU, statements | server CPU, self time by package | MariaDB: statements in flight on average (db, state, statement) |',
      '| --- | --- | --- | --- |',
      ...where,
    );
  }
  return lines.join('\n') + '\n';
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const needsServer = [...opts.only].some((n) => n !== 'ceiling');
  if (needsServer && !existsSync(join(ROOT, 'dist', 'main.js')))
    throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench does)');
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = Date.now();
  const watchdog = setTimeout(() => {
    abort.aborted = true;
    console.error(`bench: over ${opts.maxMinutes} minutes, giving up`);
    void cleanup().finally(() => process.exit(2));
  }, opts.maxMinutes * 60_000);
  watchdog.unref();

  const log = (msg) =>
    console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  // Run from a private copy of dist/: a rebuild during the run (deleteOutDir) must not pull
  // the files from under an instance that is starting. node_modules still resolve from here.
  const dist = join(RESULTS, `.dist-${runId}`);
  onCleanup(() => rmSync(dist, { recursive: true, force: true }));
  await snapshotDist(dist, log);
  const jwtSecret = `bench-secret-${randomBytes(16).toString('hex')}`;
  const ctx = {
    abort,
    runId,
    jwtSecret,
    log,
    onCleanup,
    dbServer: SERVER,
    publicPoolSize: Number(process.env.PUBLIC_DB_POOL_SIZE ?? 10),
    privatePoolSize: Number(process.env.PRIVATE_DB_POOL_SIZE ?? 10),
    rushHouseholds: 1000,
    rushCapacity: 100,
    spreadClients: 64,
    spreadSeconds: opts.spreadSeconds,
    spreadSlotCapacity: 1000,
    ceilingSeconds: opts.ceilingSeconds,
    churnCapacity: 150,
    churnWaitlist: 450,
    churnCancels: 200,
    churnNewcomers: 200,
    readClients: 64,
    readSeconds: opts.readSeconds,
    pushSubscribers: 500,
    httpHouseholds: 200,
  };

  log('creating scratch databases');
  const dbs = await createDatabases(dist, (created) => {
    onCleanup(async () => {
      if (opts.keepDatabases)
        return log(`kept databases ${created.publicName}, ${created.privateName}`);
      await created.drop();
      log(`dropped ${created.publicName}, ${created.privateName}`);
    });
  });
  onCleanup(() => dbs.closePools());
  ctx.dbs = dbs;
  await seedDimTimes(dbs.pub);
  const [[{ v: mariadbVersion }]] = await dbs.pub.query('SELECT VERSION() AS v');
  const needs =
    opts.only.has('spread') || opts.only.has('ceiling') ? opts.householdPool : ctx.rushHouseholds;
  log(`inserting ${needs} households`);
  ctx.households = await createHouseholds(dbs.priv, needs, runId, jwtSecret);

  const results = {
    machine: machine(mariadbVersion),
    options: {
      only: [...opts.only],
      rushHouseholds: ctx.rushHouseholds,
      rushCapacity: ctx.rushCapacity,
      spreadClients: ctx.spreadClients,
      spreadSeconds: ctx.spreadSeconds,
      readClients: ctx.readClients,
      readSeconds: ctx.readSeconds,
      ceilingSeconds: ctx.ceilingSeconds,
      pushSubscribers: ctx.pushSubscribers,
      householdPool: ctx.households.length,
      cpuProf: opts.cpuProf,
      experiments: opts.experiments,
      serverEnv: opts.serverEnv,
    },
    scenarios: {},
  };
  const baseEnv = {
    NODE_ENV: 'production',
    PUBLIC_DB_URL: dbs.publicUrl,
    PRIVATE_DB_URL: dbs.privateUrl,
    JWT_SECRET: jwtSecret,
    LOG_LEVEL: 'warn',
    RECOVERY_INTERVAL_MS: process.env.BENCH_RECOVERY_INTERVAL_MS ?? '2000',
    RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
    RATE_LIMIT_READS_PER_MINUTE: '1000000',
    PUBLIC_DB_POOL_SIZE: String(ctx.publicPoolSize),
    PRIVATE_DB_POOL_SIZE: String(ctx.privatePoolSize),
    BENCH_EXPERIMENTS: opts.experiments.join(','),
    ...opts.serverEnv,
  };
  // one instance runs without Redis unless --env REDIS_URL=... asks for it (WEB_CONCURRENCY > 1)
  if (!('REDIS_URL' in opts.serverEnv)) delete baseEnv.REDIS_URL;

  const runScenario = async (name, fn) => {
    if (!opts.only.has(name) || abort.aborted) return;
    log(`${name}: running`);
    try {
      results.scenarios[name] = await fn(ctx);
      const r = results.scenarios[name];
      const st = r.profile?.db?.statements;
      const ops = r.http?.requests ?? r.requests;
      if (st && ops) {
        st.perRequest = {
          public: Number((st.public.total / ops).toFixed(2)),
          private: Number((st.private.total / ops).toFixed(2)),
          publicCommits: Number(((st.public.COMMIT ?? 0) / ops).toFixed(2)),
          privateCommits: Number(((st.private.COMMIT ?? 0) / ops).toFixed(2)),
          serverCpuMs: Number(
            ((r.profile.db.serverCpuMs.user + r.profile.db.serverCpuMs.system) / ops).toFixed(2),
          ),
          serverSystemCpuMs: Number((r.profile.db.serverCpuMs.system / ops).toFixed(2)),
        };
      }
      const shown = name === 'ceiling' ? r.rush : name === 'push' ? r.pushDelayMs : r;
      const codes = name === 'push' ? r.http?.errorCodes : r.errorCodes;
      log(
        `${name}: ${JSON.stringify({ throughput: shown.throughput, latencyMs: shown.latencyMs ?? shown, errors: shown.errors, codes })}`,
      );
    } catch (error) {
      log(`${name}: FAILED ${error.stack}`);
      results.scenarios[name] = { skipped: `error: ${error.message}` };
    }
  };

  const startOne = async (name, env) => {
    const profileFile = opts.cpuProf ? join(RESULTS, `server-${name}.cpuprofile.tmp`) : undefined;
    const server = await startServer(name, env, {
      dist,
      resultsDir: RESULTS,
      cpuProfileFile: profileFile,
    });
    children.add(server);
    onCleanup(() => server.stop());
    server.profileFile = profileFile;
    return server;
  };

  // The timed part of a scenario: CPU profile of the single instance (with --cpu-prof) and
  // the statements MariaDB is busy with.
  const queryCounts = async (servers) => {
    const total = { public: {}, private: {} };
    for (const counts of await Promise.all(servers.map((srv) => srv.queryCounts()))) {
      for (const [database, byKeyword] of Object.entries(counts)) {
        const side =
          database === dbs.publicName
            ? 'public'
            : database === dbs.privateName
              ? 'private'
              : undefined;
        if (!side) continue;
        for (const [k, n] of Object.entries(byKeyword)) total[side][k] = (total[side][k] ?? 0) + n;
      }
    }
    return total;
  };
  const minus = (after, before) => {
    const out = {};
    for (const side of ['public', 'private']) {
      out[side] = {};
      let sum = 0;
      for (const [k, n] of Object.entries(after[side])) {
        const d = n - (before[side][k] ?? 0);
        if (d > 0) out[side][k] = d;
        sum += d;
      }
      out[side].total = sum;
    }
    return out;
  };
  const refusedConnections = async () => {
    const [[row]] = await dbs.pub.query(
      "SHOW GLOBAL STATUS LIKE 'Connection_errors_max_connections'",
    );
    return Number(row?.Value ?? 0);
  };
  ctx.measure = (label, { cpu = true } = {}) => {
    const server = cpu ? ctx.server : undefined;
    const servers = cpu ? (ctx.server ? [ctx.server] : (ctx.servers ?? [])) : [];
    const sampler = opts.dbSample
      ? new DbSampler(dbs.pub, [dbs.publicName, dbs.privateName]).start()
      : undefined;
    const countsBefore = queryCounts(servers);
    const refusedBefore = refusedConnections();
    const cpuBefore = servers.map((srv) => srv.cpuMs());
    const profiling = opts.cpuProf && server?.profileFile;
    if (profiling) {
      rmSync(server.profileFile, { force: true });
      server.message({ benchProfile: 'start' });
    }
    return {
      async stop() {
        const db = sampler?.stop() ?? {};
        // MariaDB is shared: connections it refused (max_connections) during the timed part,
        // whoever asked; the server turns such a refusal into a 503
        db.refusedConnections = (await refusedConnections()) - (await refusedBefore);
        // statements the server(s) sent during the timed part (background jobs included)
        if (servers.length) {
          db.statements = minus(await queryCounts(servers), await countsBefore);
          const used = (key) =>
            servers.reduce(
              (sum, srv, i) => sum + ((srv.cpuMs()?.[key] ?? 0) - (cpuBefore[i]?.[key] ?? 0)),
              0,
            );
          db.serverCpuMs = { user: used('user'), system: used('system') };
        }
        if (!profiling) return { db };
        server.message({ benchProfile: 'stop' });
        for (let i = 0; i < 100 && !existsSync(server.profileFile); i++) await sleep(100);
        if (!existsSync(server.profileFile)) return { db };
        await sleep(200);
        const file = join(RESULTS, `${label}.cpuprofile`);
        renameSync(server.profileFile, file);
        return { db, cpu: { file: `bench/results/${label}.cpuprofile`, ...summarize(file) } };
      },
    };
  };

  // Each ceiling shape runs right before the scenario it is compared with: on a shared,
  // noisy machine, figures taken minutes apart are not comparable.
  const { runShape } = require('./scenarios/ceiling');
  if (opts.only.has('ceiling'))
    results.scenarios.ceiling = {
      pools: { public: ctx.publicPoolSize, private: ctx.privatePoolSize },
    };
  const ceiling = async (shape) => {
    if (!opts.only.has('ceiling') || abort.aborted) return;
    log(`ceiling (${shape} shape): running`);
    try {
      results.scenarios.ceiling[shape] = await runShape(ctx, shape);
    } catch (error) {
      log(`ceiling ${shape}: FAILED ${error.stack}`);
      results.scenarios.ceiling[shape] = { skipped: `error: ${error.message}` };
    }
  };

  const single = ['households', 'rush', 'spread', 'churn', 'reads'].filter((n) => opts.only.has(n));
  if (single.length) {
    log('starting one server instance');
    ctx.server = await startOne('single', baseEnv);
    ctx.client = pool(ctx.server.origin, ctx.rushHouseholds + 50);
    ctx.setupClient = pool(ctx.server.origin, 32);
    onCleanup(() => Promise.allSettled([ctx.client.destroy(), ctx.setupClient.destroy()]));
    ctx.reconnect = async () => {
      await ctx.client.close();
      ctx.client = pool(ctx.server.origin, ctx.rushHouseholds + 50);
    };
    results.idleRssMb = ctx.server.rss();
    for (const name of single) {
      if (name === 'rush' || name === 'spread') await ceiling(name);
      await runScenario(name, require(`./scenarios/${name}`).run);
      if (ctx.server.exited && !abort.aborted) {
        // a crash is a finding: record it, and give the next scenario a fresh instance
        log(`${name}: the server exited (${ctx.server.exitCode}); see ${ctx.server.logFile}`);
        if (results.scenarios[name])
          results.scenarios[name].serverExited = String(ctx.server.exitCode);
        children.delete(ctx.server);
        await Promise.allSettled([ctx.client.destroy(), ctx.setupClient.destroy()]);
        ctx.server = await startOne(`single-after-${name}`, baseEnv);
        ctx.client = pool(ctx.server.origin, ctx.rushHouseholds + 50);
        ctx.setupClient = pool(ctx.server.origin, 32);
      }
      await sleep(500);
    }
    results.rssAtEndMb = ctx.server.rss();
    await ctx.server.stop();
    children.delete(ctx.server);
    ctx.server = undefined;
  }

  // ceiling shapes whose scenario was not selected
  if (!opts.only.has('rush')) await ceiling('rush');
  if (!opts.only.has('spread')) await ceiling('spread');

  if (opts.only.has('push') && !abort.aborted) {
    log('starting two server instances sharing Redis');
    const env = { ...baseEnv, REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' };
    ctx.servers = await Promise.all([startOne('a', env), startOne('b', env)]);
    ctx.clients = ctx.servers.map((s) => pool(s.origin, ctx.rushHouseholds));
    onCleanup(() => Promise.allSettled(ctx.clients.map((c) => c.destroy())));
    await runScenario('push', require('./scenarios/push').run);
    const died = ctx.servers.filter((srv) => srv.exited);
    if (died.length && results.scenarios.push)
      results.scenarios.push.serverExited = died
        .map((srv) => `${srv.name}: ${srv.exitCode}`)
        .join(', ');
  }

  if (abort.aborted) return;
  results.goals = goals(results);
  results.durationSeconds = Math.round((Date.now() - startedAt) / 1000);
  writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  const md = markdown(results);
  writeFileSync(join(RESULTS, 'latest.md'), md);
  console.log('\n' + md);
  console.log(`rush_ratio=${results.goals.rushRatio}`);
  console.log(`spread_ratio=${results.goals.spreadRatio}`);
  for (const g of results.goals.list)
    console.log(`goal ${g.result.padEnd(7)} ${g.name}: ${g.detail}`);
  const profiled = Object.entries(results.scenarios).flatMap(([name, r]) =>
    name === 'ceiling'
      ? [
          ['ceiling rush', r?.rush],
          ['ceiling spread', r?.spread],
        ]
      : [[name, r]],
  );
  for (const [name, r] of profiled) {
    if (r?.profile?.cpu) {
      console.log(
        `\nCPU profile of the server during ${name} (${r.profile.cpu.file}), self time by package:`,
      );
      for (const p of r.profile.cpu.byPackage.slice(0, 10))
        console.log(`  ${String(p.pct).padStart(5)}%  ${p.name}`);
    }
    const per = r?.profile?.db?.statements?.perRequest;
    if (per) {
      console.log(
        `\nPer request during ${name}: server CPU ${per.serverCpuMs} ms (${per.serverSystemCpuMs} in the kernel); statements: public ${per.public} (${per.publicCommits} COMMIT), private ${per.private} (${per.privateCommits} COMMIT)`,
      );
    }
    if (r?.profile?.db?.top.length) {
      console.log(
        `\nMariaDB during ${name}: statements in flight (average count | db | state | statement):`,
      );
      for (const t of r.profile.db.top.slice(0, 6))
        console.log(`  ${t.avgActive.toFixed(2).padStart(6)}  ${t.statement}`);
    }
  }
  log(`done in ${results.durationSeconds}s; results in bench/results/latest.{json,md}`);
}

main()
  .catch((error) => {
    console.error(error.stack ?? error);
    process.exitCode = 1;
  })
  .finally(() => cleanup().then(() => process.exit()));
