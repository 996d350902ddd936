import 'reflect-metadata';
import 'dotenv/config';
import cluster from 'node:cluster';
import { loadConfig, loadConfigOrExit } from './config/app-config';

// WEB_CONCURRENCY > 1: this process is only a supervisor; it forks that many workers, each a
// whole instance of the service (own pools, own background loops), sharing the port through
// node:cluster. They coordinate as separate instances always do: through the databases (row
// locks, SKIP LOCKED claims with leases for recovery, the outbox and drift checks) and Redis.
// A worker that dies is replaced; SIGTERM/SIGINT is passed on and waited for.
function supervise(workers: number): void {
  let stopping = false;
  const log = (msg: string) => console.log(JSON.stringify({ level: 'info', msg }));
  for (let i = 0; i < workers; i++) cluster.fork();
  // the port answers once one worker listens; this says when each one takes its share
  cluster.on('listening', (worker) => log(`worker ${worker.process.pid} listening`));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal} received, stopping ${workers} workers`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    setTimeout(() => process.exit(1), 30_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(): Promise<void> {
  // validate before anything connects, so a bad variable stops the process within seconds
  const checked = loadConfigOrExit();
  if (cluster.isPrimary && checked.workers > 1) return supervise(checked.workers);
  const { createApp } = await import('./bootstrap');
  const { APP_CONFIG } = await import('./config/app-config');
  const app = await createApp();
  const config = app.get<ReturnType<typeof loadConfig>>(APP_CONFIG);
  // every interface, as Express did: Fastify alone listens on localhost, useless in a container
  await app.listen(config.port, '0.0.0.0');

  // SIGTERM/SIGINT: stop accepting connections, let in-flight requests (and their sagas) finish,
  // stop the background loops, close both pools, exit 0. A drain that hangs is cut after 25 s.
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(JSON.stringify({ level: 'info', msg: `${signal} received, draining` }));
    setTimeout(() => process.exit(1), 25_000).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
