import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createGateway, type Gateway } from '../../src/app.js';
import { spawnGateway, type GatewayProcess } from './gateway-process.js';
import { testLogger } from './log-capture.js';
import { childMongoUri } from './orders-fixtures.js';
import { testConfig } from './test-config.js';
import { testStore } from './test-store.js';

export interface HolderProcesses {
  /** The in-process gateway that made the children's keys (not started): its sandbox sets provider rules. */
  gateway: () => Gateway;
  /** A gateway process on the suite's store and keys; killed after each test. */
  start: (extra?: Record<string, string>) => Promise<GatewayProcess>;
  /** Graceful stop: the process finishes the step it is in (a stale one included) and exits. */
  stop: (gw: GatewayProcess) => Promise<void>;
}

/**
 * The harness of the crash and stale-holder suites: real gateway processes sharing one store, one
 * set of gateway keys and one card-data key, started per test with the settings it needs (a pause
 * point, a lease) and all killed after it. Registers the suite's hooks; call it in a describe.
 */
export function holderProcesses(name: string, env: Record<string, string> = {}): HolderProcesses {
  const cardDataKeys = `${name}:${randomBytes(32).toString('base64')}`;
  let keysDir: string;
  let gateway: Gateway | undefined;
  const children: GatewayProcess[] = [];

  before(async () => {
    keysDir = await mkdtemp(path.join(os.tmpdir(), `card-gateway-${name}-`));
    gateway = await createGateway({
      // Generates the gateway keys the children share, before any child starts.
      config: testConfig({ CARD_DATA_KEYS: cardDataKeys, CARD_DATA_ACTIVE_KEY_ID: name, GATEWAY_KEYS_DIR: keysDir }),
      logger: testLogger,
      connection: testStore().connection,
    });
    // Orders other suites left due would otherwise be the children's work, and could take a pause.
    await gateway.orders.worker.drain();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.child.kill('SIGCONT');
      child.child.kill('SIGKILL');
      await child.exited;
    }
  });
  after(async () => {
    await gateway?.stop();
    await rm(keysDir, { recursive: true, force: true });
  });

  return {
    gateway: () => gateway!,
    start: async (extra = {}) => {
      const gw = await spawnGateway({
        MONGODB_URI: childMongoUri(testStore().uri, testStore().dbName),
        GATEWAY_KEYS_DIR: keysDir,
        CARD_DATA_KEYS: cardDataKeys,
        CARD_DATA_ACTIVE_KEY_ID: name,
        LOG_LEVEL: 'info',
        WORKER_POLL_MS: '50',
        ...env,
        ...extra,
      });
      children.push(gw);
      return gw;
    },
    stop: async (gw) => {
      gw.child.kill('SIGTERM');
      await gw.exited;
      children.splice(children.indexOf(gw), 1);
    },
  };
}

/** Whether the process logged `message` (for the order, when given). */
export const loggedFor = (gw: GatewayProcess, message: string, orderId?: string): boolean =>
  gw.output.some((l) => l.includes(`"message":"${message}"`) && (orderId === undefined || l.includes(orderId)));

/** The log line of the process's pause at `step`, if it reached it. */
export const pausedAt = (gw: GatewayProcess, step: string): string | undefined =>
  gw.output.find((l) => l.includes('"message":"workflow paused for a test"') && l.includes(`"step":"${step}"`));
