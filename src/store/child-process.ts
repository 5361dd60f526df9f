import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * What the gateway's helper processes (the embedded store, the provider simulator) share: a child
 * announces itself with one `READY <payload>` line on stdout, and is stopped with SIGTERM, then
 * SIGKILL if it lingers.
 */

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The payload of the child's `READY ` line; rejects (with the tail of its stderr) on exit or timeout. */
export function waitForReadyLine(child: ChildProcess, what: string, timeoutMs: number, failure: (message: string) => Error = (m) => new Error(m)): Promise<string> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(failure(`${what} did not start within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      lines.close();
      resolve(line.slice('READY '.length).trim());
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(failure(`${what} exited with code ${code}: ${stderr.trim()}`));
    });
  });
}

/** SIGTERM, and SIGKILL after `graceMs`; resolves once the child is gone. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
