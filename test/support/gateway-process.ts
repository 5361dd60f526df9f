import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../src/store/project-root.js';
import { suiteSimulatorEnvIfRunning } from './provider-sim.js';

/**
 * Runs the real gateway (dist/src/main.js) as a child process, for tests of what only a process
 * shows: signals, crashes, several gateways on one database.
 */
export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  /** Every line the process printed (JSON logs), for assertions. */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnGateway(env: Record<string, string>, timeoutMs = 60_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'src', 'main.js')], {
    cwd: projectRoot(),
    // The suite's provider simulator unless the test says otherwise (PROVIDER_URL: '' starts the gateway's own).
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', GATEWAY_PROCESSES: '1', ...suiteSimulatorEnvIfRunning(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (l) => output.push(l));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start in ${timeoutMs} ms:\n${output.join('\n')}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      const match = /"message":"gateway listening".*"url":"([^"]+)"|"url":"([^"]+)".*"message":"gateway listening"/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve({ child, url: match[1] ?? match[2]!, output, exited });
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
