import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Card } from '../../src/cards/card-model.js';
import type { WireCard, WireCardStatus, WireWebhookEvent } from '../../src/provider/http/wire.js';
import { simulatorConfig, startProviderSimulator, type SimulatorProcess } from '../../src/provider/simulator-process.js';

/**
 * The provider simulator process the suite talks to (started by the root hooks, like the store),
 * and small helpers for its control endpoints. Tests that need their own faults or webhook target
 * start their own with startTestSimulator().
 */
let suite: { sim: SimulatorProcess; dir: string } | undefined;

export async function startTestSimulator(options: { webhookUrl?: string; faults?: Record<string, number> } = {}): Promise<{ sim: SimulatorProcess; dir: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'card-gateway-sim-'));
  const sim = await startProviderSimulator({ dataDir: dir, ...options });
  return {
    sim,
    dir,
    stop: async () => {
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function openSuiteSimulator(): Promise<void> {
  const started = await startTestSimulator();
  suite = { sim: started.sim, dir: started.dir };
}

export async function closeSuiteSimulator(): Promise<void> {
  if (!suite) return;
  await suite.sim.stop();
  await rm(suite.dir, { recursive: true, force: true });
  suite = undefined;
}

export function suiteSimulator(): SimulatorProcess {
  if (!suite) throw new Error('the provider simulator is not running (root hooks did not run)');
  return suite.sim;
}

/** The suite simulator's configuration when it runs (tests), nothing otherwise (the bench): the gateway then starts its own. */
export function suiteSimulatorEnvIfRunning(): Record<string, string> {
  return suite ? simulatorConfig(suite.sim) : {};
}

/** The configuration pointing a gateway at `sim` (the suite's by default). */
export function simulatorEnv(sim: SimulatorProcess = suiteSimulator()): Record<string, string> {
  return simulatorConfig(sim);
}

async function control<T>(sim: SimulatorProcess, method: string, pathName: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sim.url}${pathName}`, {
    method,
    headers: { authorization: `Bearer ${sim.apiKey}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`simulator ${method} ${pathName} answered ${res.status}`);
  return (await res.json()) as T;
}

export interface SimulatorState {
  cards: WireCard[];
  loads: { id: string; cardId: string; direction: 'load' | 'unload'; amount: number; status: string; verified: string }[];
  accounts: number;
}

export function simulatorState(sim: SimulatorProcess = suiteSimulator()): Promise<SimulatorState> {
  return control(sim, 'GET', '/v1/simulator/state');
}

export function setFaults(sim: SimulatorProcess, faults: Record<string, number>): Promise<unknown> {
  return control(sim, 'PUT', '/v1/simulator/faults', faults);
}

export function setWebhookTarget(sim: SimulatorProcess, url: string | undefined): Promise<unknown> {
  return control(sim, 'PUT', '/v1/simulator/webhooks', { url });
}

export interface SimulatorAccount {
  id: string;
  reference: string;
  name: string;
  status: 'pending' | 'active' | 'rejected';
  createdAt: string;
}

/** Every customer account the simulator holds. */
export function simulatorAccounts(sim: SimulatorProcess = suiteSimulator()): Promise<SimulatorAccount[]> {
  return control(sim, 'GET', '/v1/simulator/accounts');
}

/** How one account reference's account and cards behave (docs/provider.md, "Rules"); omitted fields take their defaults. */
export function setRule(sim: SimulatorProcess, reference: string, rule: Record<string, unknown>): Promise<unknown> {
  return control(sim, 'PUT', `/v1/simulator/rules/${encodeURIComponent(reference)}`, rule);
}

/** Verifies or rejects a held (pending) account; its webhook follows. */
export function settleAccount(sim: SimulatorProcess, accountId: string, verdict: 'verify' | 'reject'): Promise<SimulatorAccount> {
  return control(sim, 'PATCH', `/v1/simulator/accounts/${encodeURIComponent(accountId)}/${verdict}`);
}

/** A provider `card.updated` webhook about the gateway's card, as the provider would send it. */
export function providerCardEvent(card: Pick<Card, 'provider_card_id' | 'order_id' | 'masked_pan'>, status: WireCardStatus, updatedAt: Date): WireWebhookEvent {
  return {
    id: randomUUID(),
    type: 'card.updated',
    createdAt: new Date().toISOString(),
    data: {
      card: {
        id: card.provider_card_id,
        accountId: 'a',
        type: 'virtual',
        externalId: card.order_id,
        network: 'visa',
        maskedPan: card.masked_pan,
        expirationDate: '01/2030',
        billingAddress: { firstLine: 'x', city: 'x', country: 'GB', postCode: 'x' },
        currency: 'USD',
        balance: 0,
        status,
        createdAt: updatedAt.toISOString(),
        updatedAt: updatedAt.toISOString(),
      },
    },
  };
}
