import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { createGateway, type Gateway } from '../../src/app.js';
import { GatewayApiError, PartnerClient, type PartnerClientOptions } from '@card-gateway/client';
import { generateKeyPair, jwkThumbprint, privateJwk, publicJwk, type Jwk, type KeyManagementAlg, type SignatureAlg } from '../../src/jose/index.js';
import { newId } from '../../src/ids/ids.js';
import type { PartnerHandlers } from '../../src/partner-api/partner-handler.js';
import type { Project, ProjectStatus } from '../../src/projects/project-model.js';
import { ProjectRepository } from '../../src/projects/project-repository.js';
import { serverLimits, startServer } from '../../src/server.js';
import { testLogger } from './log-capture.js';
import { registerSecret } from './log-audit.js';
import { testConfig } from './test-config.js';
import { testStore } from './test-store.js';

/**
 * Partner-side test support for every team: a gateway listening on a free port, and projects with
 * fresh keys and a ready PartnerClient.
 */

export interface TestGateway {
  url: string;
  gateway: Gateway;
  /** The listening HTTP server (connection counts, limits). */
  server: Server;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Configuration variables over testConfig's. */
  config?: Record<string, string>;
  partnerHandlers?: PartnerHandlers;
  /** Generate the gateway's keys anew instead of reusing the suite's (key rotation tests). */
  freshKeys?: boolean;
  /** The gateway's secure-channel clock (instances whose clocks differ). */
  now?: () => number;
  /** Another connection than the suite's: one with command monitoring, or an isolatedDb for tests that must not see other rows. */
  connection?: Connection;
}

let sharedKeysDir: Promise<string> | undefined;
let lastUrl: string | undefined;

async function keysDir(fresh: boolean): Promise<{ dir: string; owned: boolean }> {
  if (fresh) return { dir: await mkdtemp(path.join(os.tmpdir(), 'card-gateway-keys-')), owned: true };
  // One set of gateway keys for the run: generating RSA keys per gateway would only cost time.
  sharedKeysDir ??= mkdtemp(path.join(os.tmpdir(), 'card-gateway-keys-')).then((dir) => {
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  });
  return { dir: await sharedKeysDir, owned: false };
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const keys = await keysDir(options.freshKeys ?? false);
  const config = testConfig({ GATEWAY_KEYS_DIR: keys.dir, ...options.config });
  const gateway = await createGateway({
    config,
    logger: testLogger,
    connection: options.connection ?? testStore().connection,
    partnerHandlers: options.partnerHandlers,
    ...(options.now && { now: options.now }),
  });
  const server = await startServer(gateway.app, '127.0.0.1', 0, serverLimits(config));
  lastUrl = server.url;
  return {
    url: server.url,
    gateway,
    server: server.server,
    close: async () => {
      await server.close(1000);
      await gateway.stop();
      if (keys.owned) await rm(keys.dir, { recursive: true, force: true });
    },
  };
}

export interface TestKeyPair<A extends string> {
  kid: string;
  alg: A;
  privateJwk: Jwk;
  publicJwk: Jwk;
}

export interface TestProject {
  project: Project;
  client: PartnerClient;
  keys: { signing: TestKeyPair<SignatureAlg>; encryption: TestKeyPair<KeyManagementAlg> };
}

export interface TestProjectOptions {
  /** The gateway the client talks to (default: the last one started). */
  url?: string;
  signingAlg?: SignatureAlg;
  encryptionAlg?: KeyManagementAlg;
  status?: ProjectStatus;
  name?: string;
  currency?: string;
}

export async function testKeyPair<A extends SignatureAlg | KeyManagementAlg>(alg: A): Promise<TestKeyPair<A>> {
  const { privateKey } = await generateKeyPair(alg);
  const kid = `${alg.toLowerCase()}-${jwkThumbprint(privateKey).slice(0, 12)}`;
  const priv = privateJwk(privateKey);
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
    if (typeof priv[member] === 'string') registerSecret(priv[member]);
  }
  return { kid, alg, privateJwk: priv, publicJwk: publicJwk(privateKey) };
}

/** Inserts a project with fresh keys of the chosen algorithms and returns a client speaking for it. */
export async function createTestProject(options: TestProjectOptions = {}): Promise<TestProject> {
  const url = options.url ?? lastUrl;
  if (!url) throw new Error('createTestProject: start a test gateway first or pass url');
  const [signing, encryption] = await Promise.all([testKeyPair(options.signingAlg ?? 'ES256'), testKeyPair(options.encryptionAlg ?? 'ECDH-ES+A256KW')]);
  const now = new Date();
  const project = await new ProjectRepository(testStore().connection).insert({
    _id: newId('prj'),
    name: options.name ?? 'Test partner',
    status: options.status ?? 'active',
    currency: options.currency ?? 'USD',
    signing_keys: [{ kid: signing.kid, alg: signing.alg, jwk: signing.publicJwk, status: 'active', created_at: now }],
    encryption_keys: [{ kid: encryption.kid, alg: encryption.alg, jwk: encryption.publicJwk, status: 'active', created_at: now }],
  });
  const keys = { signing, encryption };
  return { project, client: clientFor(url, project._id, keys), keys };
}

/** Another client for a test project (e.g. preferring another gateway key, or a frozen clock). */
export function clientFor(url: string, projectId: string, keys: TestProject['keys'], overrides: Partial<PartnerClientOptions> = {}): PartnerClient {
  return new PartnerClient({
    baseUrl: url,
    projectId,
    signingKey: { kid: keys.signing.kid, alg: keys.signing.alg, privateKey: keys.signing.privateJwk },
    encryptionKeys: [{ kid: keys.encryption.kid, alg: keys.encryption.alg, privateKey: keys.encryption.privateJwk }],
    ...overrides,
  });
}

/** Handlers that answer what they were given: for testing the envelope without business logic. */
export function echoHandlers(): PartnerHandlers {
  const echo = (endpoint: string) => (request: Parameters<PartnerHandlers['createCard']>[0]) =>
    Promise.resolve({
      status: 200,
      data: { endpoint, body: request.body, idempotency_key: request.idempotencyKey ?? null, project_id: request.project._id },
    });
  return { createCard: echo('createCard'), checkOrder: echo('checkOrder'), getCard: echo('getCard') };
}

/** The GatewayApiError a call ends in (fails the test when it succeeds or fails otherwise). */
export async function expectApiError(call: Promise<unknown>): Promise<GatewayApiError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof GatewayApiError) return err;
    throw err;
  }
  throw new Error('expected an error answer');
}
