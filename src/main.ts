import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { loadConfig, ConfigError, type Config } from './config/config.js';
import { createLogger, type Logger } from './logging/logger.js';
import { connectDatabase } from './store/database.js';
import { startEmbeddedStore, type EmbeddedStore, type RestartPolicy } from './store/embedded-store.js';
import { simulatorConfig, startProviderSimulator, type SimulatorProcess } from './provider/simulator-process.js';
import { createGateway } from './app.js';
import { PROVIDER_WEBHOOK_PATH } from './provider/webhooks/webhook-routes.js';
import { demoBootstrapApplies, ensureDemoPartner } from './back-office/demo-partner.js';
import { serverLimits, startServer } from './server.js';
import { gatewayProcessCount, runPrimary } from './process/cluster.js';
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
  const processes = gatewayProcessCount(config);
  if (processes > 1 && cluster.isPrimary) return runPrimary(processes, logger);

  let embedded: EmbeddedStore | undefined;
  let simulator: SimulatorProcess | undefined;
  const stopChildren = async () => {
    await simulator?.stop();
    await embedded?.stop();
  };
  try {
    let uri = config.MONGODB_URI;
    if (!uri) {
      embedded = await startEmbeddedStore({ dataDir: config.embeddedStoreDir, log: (m) => logger.info(m), restart: storeRestartPolicy(config, logger) });
      uri = embedded.uri;
      logger.info('embedded store started', { data_dir: config.embeddedStoreDir });
    }
    if (!config.PROVIDER_URL) {
      // Never in production: the configuration refuses to load there without PROVIDER_URL.
      simulator = await startProviderSimulator({
        dataDir: config.providerSimDir,
        signingKeyId: config.PROVIDER_SIGNING_KEY_ID,
        faults: { latency_ms: config.SANDBOX_LATENCY_MS, error_rate: config.SANDBOX_FAILURE_RATE },
      });
      config = { ...config, ...simulatorConfig(simulator) };
      logger.info('provider simulator started', { url: simulator.url, data_dir: config.providerSimDir });
    }
    const connection = await connectDatabase(uri, undefined, {
      serverSelectionTimeoutMS: config.STORE_SERVER_SELECTION_TIMEOUT_MS,
      socketTimeoutMS: config.STORE_SOCKET_TIMEOUT_MS,
    });
    const gateway = await createGateway({ config: await withDevStaffToken(config, logger), logger, connection });
    if (demoBootstrapApplies(config)) await ensureDemoPartner({ config, logger, connection });
    const server = await startServer(gateway.app, config.HOST, config.PORT, serverLimits(config));
    const adminServer = gateway.adminApp && (await startServer(gateway.adminApp, config.ADMIN_HOST, config.ADMIN_PORT ?? 0, serverLimits(config)));
    await gateway.start();
    if (simulator) await gateway.orders.link?.client.send('PUT', '/v1/simulator/webhooks', { idempotencyKey: 'webhooks', body: { url: `${server.url}${PROVIDER_WEBHOOK_PATH}` } });
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
      await stopChildren();
      logger.info('stopped');
      process.exit(0);
    };
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => void shutdown(signal).catch((err: unknown) => fail(logger, err, stopChildren)));
    }
  } catch (err) {
    await fail(logger, err, stopChildren);
  }
}

/** A dead embedded store is restarted; when it will not stay up the process exits 1 for its supervisor. */
function storeRestartPolicy(config: Config, logger: Logger): RestartPolicy {
  return {
    maxRestarts: config.EMBEDDED_STORE_MAX_RESTARTS,
    onRestart: (e) => logger.error('embedded store exited; restarting', { attempt: e.attempt, delay_ms: e.delayMs, exit_code: e.exitCode, signal: e.signal }),
    onRestarted: (e) => logger.info('embedded store restarted', { attempt: e.attempt }),
    onGiveUp: (err) => {
      logger.error('embedded store cannot be restarted; exiting', { error: err });
      process.exit(1);
    },
  };
}

async function fail(logger: Logger, err: unknown, stopChildren: () => Promise<void>): Promise<never> {
  logger.error('gateway failed', { error: err });
  await stopChildren();
  process.exit(1);
}

void main();
