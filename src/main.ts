import 'reflect-metadata';
import 'dotenv/config';
import { loadConfig, loadConfigOrExit } from './config/app-config';

async function main(): Promise<void> {
  // validate before anything connects, so a bad variable stops the process within seconds
  loadConfigOrExit();
  const { createApp } = await import('./bootstrap');
  const { APP_CONFIG } = await import('./config/app-config');
  const app = await createApp();
  const config = app.get<ReturnType<typeof loadConfig>>(APP_CONFIG);
  await app.listen(config.port);

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
