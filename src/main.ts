import { existsSync } from 'node:fs';
import { loadConfig, ConfigError, type Config } from './config/config.js';
import { createLogger, type Logger } from './logging/logger.js';
import { connectDatabase } from './store/database.js';
import { startEmbeddedStore, type EmbeddedStore } from './store/embedded-store.js';
import { createGateway } from './app.js';
import { demoBootstrapApplies, ensureDemoPartner } from './back-office/demo-partner.js';
import { startServer } from './server.js';
import { withDevStaffToken } from './admin/dev-staff-token.js';

/** Starts the gateway process: configuration, store, app, server, and a graceful shutdown. */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');

  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.LOG_LEVEL });

  let embedded: EmbeddedStore | undefined;
  try {
    let uri = config.MONGODB_URI;
    if (!uri) {
      embedded = await startEmbeddedStore({ dataDir: config.embeddedStoreDir, log: (m) => logger.info(m) });
      uri = embedded.uri;
      logger.info('embedded store started', { data_dir: config.embeddedStoreDir });
    }
    const connection = await connectDatabase(uri);
    const gateway = await createGateway({ config: await withDevStaffToken(config, logger), logger, connection });
    if (demoBootstrapApplies(config)) await ensureDemoPartner({ config, logger, connection });
    const server = await startServer(gateway.app, config.HOST, config.PORT);
    const adminServer = gateway.adminApp && (await startServer(gateway.adminApp, config.HOST, config.ADMIN_PORT ?? 0));
    await gateway.start();
    if (adminServer) logger.info('admin api listening', { url: adminServer.url });
    logger.info('gateway listening', { url: server.url });

    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting down', { signal });
      gateway.readiness.accepting = false;
      await Promise.all([server.close(config.SHUTDOWN_TIMEOUT_MS), adminServer?.close(config.SHUTDOWN_TIMEOUT_MS)]);
      await gateway.stop();
      await connection.close();
      await embedded?.stop();
      logger.info('stopped');
      process.exit(0);
    };
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => void shutdown(signal).catch((err: unknown) => fail(logger, err, embedded)));
    }
  } catch (err) {
    await fail(logger, err, embedded);
  }
}

async function fail(logger: Logger, err: unknown, embedded: EmbeddedStore | undefined): Promise<never> {
  logger.error('gateway failed', { error: err });
  await embedded?.stop();
  process.exit(1);
}

void main();
