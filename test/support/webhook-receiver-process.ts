import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../src/store/project-root.js';

export interface ReceivedRequest {
  id: string;
  /** The Webhook-Type header. */
  type: string;
  attempt: string;
  body: string;
  answer: string;
}

export interface Receiver {
  child: ChildProcess;
  url: string;
  received(): Promise<ReceivedRequest[]>;
  stop(): Promise<void>;
}

/** The partner's endpoint: its own process (test/support/webhook-receiver.ts). */
export async function startReceiver(env: Record<string, string>): Promise<Receiver> {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'test', 'support', 'webhook-receiver.js')], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    child,
    url: `${base}/hook`,
    received: async () => (await fetch(`${base}/received`)).json() as Promise<ReceivedRequest[]>,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

