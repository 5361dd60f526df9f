/**
 * Prints where a V8 CPU profile spent its samples: self time by area (crypto, store client, HTTP,
 * ...), by package and by function, the heaviest first. Usage: node dist/bench/profile-summary.js FILE.cpuprofile [rows]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: profile-summary FILE.cpuprofile [rows]\n');
  process.exit(2);
}
const rows = Number(rowsArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfSamples = new Map<number, number>();
for (const id of profile.samples) selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
const total = profile.samples.length;

function where(url: string): string {
  if (!url) return '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return url;
  const own = /\/dist\/(.*)$/.exec(url);
  return own ? own[1]! : url;
}

/** The parts of a request's cost, by the package or native frame a sample fell in. */
const AREAS: [area: string, test: RegExp][] = [
  ['idle (waiting for I/O)', /^\(idle\)/],
  ['garbage collector', /^\(garbage collector\)/],
  ['crypto: jose and node:crypto (WebCrypto job setup, keys, base64url)', /^(jose|src\/jose|node:internal\/crypto)/],
  ['store client: mongodb driver, mongoose, bson', /^(mongodb|mongoose|bson|mquery|kareem|sift)/],
  ['HTTP and sockets: node:http, streams, express, writes', /^(node:_http|node:net|node:internal\/streams|node:internal\/stream_base|express|router|body-parser|raw-body|finalhandler|send|on-finished|writeBuffer|writev)/],
  ['logging: winston', /^(winston|logform|triple-beam|readable-stream|src\/logging)/],
  ['rate limiting', /^express-rate-limit/],
  ['gateway code (src/)', /^src\//],
];

function areaOf(place: string, functionName: string): string {
  const key = place === '(native)' ? functionName : place;
  return AREAS.find(([, test]) => test.test(key))?.[0] ?? (place === '(native)' ? 'other native (program, microtasks)' : 'other (node internals, other packages)');
}

const byArea = new Map<string, number>();
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const [id, count] of selfSamples) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const place = where(url);
  const name = `${functionName || '(anonymous)'}  ${place}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  const pkg = place.startsWith('src/') || place.startsWith('bench/') ? place.split('/').slice(0, 2).join('/') : place;
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + count);
  const area = areaOf(place, functionName);
  byArea.set(area, (byArea.get(area) ?? 0) + count);
}
const print = (title: string, table: Map<string, number>) => {
  process.stdout.write(`${title}\n`);
  for (const [name, count] of [...table].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    process.stdout.write(`${((count / total) * 100).toFixed(1).padStart(5)}%  ${name}\n`);
  }
};
print(`self time by area (${total} samples)`, byArea);
print('self time by package', byPackage);
print('self time by function', byFunction);
