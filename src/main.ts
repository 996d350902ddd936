import 'reflect-metadata';
import 'dotenv/config';
import { ConfigError, loadConfig } from './config/app-config';

async function main(): Promise<void> {
  // validate before anything connects, so a bad variable stops the process within seconds
  try {
    loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const { createApp } = await import('./bootstrap');
  const { APP_CONFIG } = await import('./config/app-config');
  const app = await createApp();
  const config = app.get<ReturnType<typeof loadConfig>>(APP_CONFIG);
  await app.listen(config.port);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
