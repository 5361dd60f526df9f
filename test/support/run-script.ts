import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../src/store/project-root.js';

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a compiled script (dist/scripts/NAME.js) as a real child process. */
export function runScript(name: string, args: string[], env: Record<string, string>): Promise<ScriptResult> {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'scripts', `${name}.js`), ...args], {
    cwd: projectRoot(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
