import { loadConfig, type Config } from '../../src/config/config.js';
import { simulatorEnv } from './provider-sim.js';

/** A valid test configuration, its card provider the suite's simulator; tests override only what they are about. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'debug', WORKER_ENABLED: 'false', ...simulatorEnv(), ...overrides });
}
