/**
 * Makes sure Debian's Chromium is there for the console's browser test (npm test runs this before
 * mocha, as it builds the store server), so the README's test command works on a fresh machine.
 * Installs it with apt-get when missing and running as root; otherwise says what to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM = '/usr/bin/chromium';

function apt(args: string[]): void {
  const run = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (run.status !== 0) {
    process.stderr.write(`apt-get ${args.join(' ')} failed (exit ${run.status ?? run.signal}); install Debian's chromium package by hand.\n`);
    process.exit(1);
  }
}

if (!existsSync(CHROMIUM)) {
  if (process.getuid?.() !== 0) {
    process.stderr.write(`${CHROMIUM} is missing: the console's browser test needs Debian's chromium package (sudo apt-get install chromium).\n`);
    process.exit(1);
  }
  process.stdout.write('installing Debian chromium for the browser test (first run only)\n');
  apt(['update']);
  apt(['install', '-y', '--no-install-recommends', 'chromium']);
}
process.stdout.write(`chromium ready: ${CHROMIUM}\n`);
