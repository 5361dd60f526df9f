import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureStoreServerBinary, patchedModuleDir } from '../../src/store/store-server-binary.js';

const run = promisify(execFile);

/**
 * FerretDB's own tests of the packages our patch set changes in ways those tests cover
 * (store-server/patches/README.md): run against the patched copy the embedded store is built from,
 * so a patch that changes what a package answers fails here. `sjson` is how every stored document
 * is decoded; its tests round-trip every BSON type, with edge values, through Marshal and Unmarshal.
 */
describe("FerretDB's own tests on the patched packages", function () {
  this.timeout(600_000);

  before(async function () {
    if (process.env.MONGODB_URI) this.skip(); // no embedded store is built then
    await ensureStoreServerBinary();
  });

  for (const pkg of ['./internal/handler/sjson/']) {
    it(`when ${pkg} is tested as patched, then every upstream test passes`, async () => {
      // Throws with Go's output (the failing test and its diff) when any test fails.
      await run('go', ['test', '-count=1', pkg], { cwd: patchedModuleDir(), maxBuffer: 16 * 1024 * 1024, timeout: 540_000 });
    });
  }
});
