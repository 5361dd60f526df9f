import type { Context } from 'mocha';
import { auditLogLines } from './log-audit.js';
import { capturedLogLines } from './log-capture.js';
import { closeSuiteSimulator, openSuiteSimulator } from './provider-sim.js';
import { closeTestStore, openTestStore } from './test-store.js';

/**
 * Opens the real database and starts the provider simulator once for the whole suite. At the end, audits every captured log line:
 * a token, key material or decrypted body in the logs fails the run.
 */
export const mochaHooks = {
  async beforeAll(this: Context) {
    this.timeout(120_000);
    await Promise.all([openTestStore(), openSuiteSimulator()]);
  },
  async afterAll(this: Context) {
    this.timeout(30_000);
    await Promise.all([closeTestStore(), closeSuiteSimulator()]);
    const lines = capturedLogLines();
    const problems = auditLogLines(lines);
    if (problems.length > 0) {
      throw new Error(`the captured logs leak secrets (${problems.length} findings in ${lines.length} lines):\n${problems.slice(0, 20).join('\n')}`);
    }
  },
};
