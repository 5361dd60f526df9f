/**
 * Builds the embedded store server ahead of time (npm test runs it before mocha so no test waits
 * on a first compile). The gateway also builds it on demand; this only moves the wait.
 */
import { ensureStoreServerBinary } from '../src/store/store-server-binary.js';

const binary = await ensureStoreServerBinary({ log: (m) => process.stdout.write(`${m}\n`) });
process.stdout.write(`store server ready: ${binary}\n`);
