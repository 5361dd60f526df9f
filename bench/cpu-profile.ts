/**
 * Loaded into the gateway with NODE_OPTIONS="--import ./dist/bench/cpu-profile.js" (Node refuses
 * --cpu-prof there): records a V8 CPU profile and writes it to CPU_PROFILE_FILE when the process
 * exits. Open it in Chrome DevTools or summarise it with bench/profile-summary.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.CPU_PROFILE_FILE ?? `gateway-${process.pid}.cpuprofile`;
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
process.on('exit', () => {
  // On the main thread the inspector answers synchronously, so this runs before the process ends.
  session.post('Profiler.stop', (err, result) => {
    if (!err) writeFileSync(file, JSON.stringify(result.profile));
  });
});
