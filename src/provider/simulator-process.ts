import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { isAlive, stopChild, waitForReadyLine } from '../store/child-process.js';
import { projectRoot } from '../store/project-root.js';

/**
 * The provider simulator (provider-sim/) as a child process, for development and tests when no
 * PROVIDER_URL is configured, managed like the embedded store: its standard input is a pipe we never
 * close, so it exits when we die, however we die; its journal (its own folder) outlives both.
 */
export interface SimulatorProcess {
  url: string;
  apiKey: string;
  /** What the gateway signs with (private JWK, JSON) and under which keyid. */
  signingKey: string;
  signingKeyId: string;
  /** The simulator's webhook keys for PROVIDER_WEBHOOK_KEYS: `{keyid: public JWK}` in JSON. */
  webhookKeys: string;
  /** False when we joined a simulator another process started: stop() then leaves it running. */
  owned: boolean;
  stop(): Promise<void>;
}

/** Written beside the journal (mode 0600) so scripts can talk to the simulator of a running gateway. */
const LINK_FILE = 'link.json';

type Link = Pick<SimulatorProcess, 'url' | 'apiKey' | 'signingKey' | 'signingKeyId' | 'webhookKeys'> & { pid: number };

function withoutPid(link: Link): Omit<Link, 'pid'> {
  return { url: link.url, apiKey: link.apiKey, signingKey: link.signingKey, signingKeyId: link.signingKeyId, webhookKeys: link.webhookKeys };
}

async function runningLink(dataDir: string): Promise<Link | undefined> {
  try {
    const link = JSON.parse(await readFile(path.join(dataDir, LINK_FILE), 'utf8')) as Link;
    return isAlive(link.pid) ? link : undefined;
  } catch {
    return undefined;
  }
}

const START_TIMEOUT_MS = 30_000;

/** A fresh Ed25519 pair for one gateway <-> simulator link: [private JWK, public JWK], both JSON. */
export function linkKeyPair(): [string, string] {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return [JSON.stringify(privateKey.export({ format: 'jwk' })), JSON.stringify(publicKey.export({ format: 'jwk' }))];
}

export async function startProviderSimulator(options: {
  dataDir: string;
  /** Initial fault switches (PROVIDER_SIM_FAULTS). */
  faults?: Record<string, number>;
  webhookUrl?: string;
  signingKeyId?: string;
  /** Use the simulator a running gateway started on `dataDir`, if there is one (scripts). */
  joinRunning?: boolean;
}): Promise<SimulatorProcess> {
  if (options.joinRunning) {
    const running = await runningLink(options.dataDir);
    if (running) {
      return { ...withoutPid(running), owned: false, stop: () => Promise.resolve() };
    }
  }
  const [signingKey, publicKey] = linkKeyPair();
  const signingKeyId = options.signingKeyId ?? 'gateway-1';
  const apiKey = `sim-${process.pid}-${Date.now().toString(36)}`;
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'provider-sim', 'main.js'), '--parent-pipe'], {
    env: {
      PATH: process.env.PATH ?? '',
      PROVIDER_SIM_DIR: options.dataDir,
      PROVIDER_SIM_API_KEY: apiKey,
      PROVIDER_SIM_CLIENT_KEYS: `{"${signingKeyId}":${publicKey}}`,
      PROVIDER_SIM_FAULTS: JSON.stringify(options.faults ?? {}),
      ...(options.webhookUrl && { PROVIDER_SIM_WEBHOOK_URL: options.webhookUrl }),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const ready = await waitForReady(child);
  const link: Link = {
    pid: child.pid!,
    url: ready.url,
    apiKey,
    signingKey,
    signingKeyId,
    webhookKeys: JSON.stringify({ [ready.webhook_key_id]: ready.webhook_public_key }),
  };
  await writeFile(path.join(options.dataDir, LINK_FILE), JSON.stringify(link), { mode: 0o600 });
  return {
    ...withoutPid(link),
    owned: true,
    stop: () => stopChild(child, 5_000),
  };
}

interface Ready {
  url: string;
  webhook_key_id: string;
  webhook_public_key: unknown;
}

async function waitForReady(child: ChildProcess): Promise<Ready> {
  return JSON.parse(await waitForReadyLine(child, 'provider simulator', START_TIMEOUT_MS)) as Ready;
}

/** The configuration that points the gateway at a simulator it started or joined. */
export function simulatorConfig(sim: Pick<SimulatorProcess, 'url' | 'apiKey' | 'signingKey' | 'signingKeyId' | 'webhookKeys'>) {
  return {
    PROVIDER_URL: sim.url,
    PROVIDER_API_KEY: sim.apiKey,
    PROVIDER_SIGNING_KEY: sim.signingKey,
    PROVIDER_SIGNING_KEY_ID: sim.signingKeyId,
    PROVIDER_WEBHOOK_KEYS: sim.webhookKeys,
  };
}
