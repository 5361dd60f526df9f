/**
 * The physical floor of a partner request: one JWE key unwrap with the gateway's private key.
 * Measures how many RSA-OAEP-256 (RSA-2048) and ECDH-ES+A256KW (P-256) unwraps per second
 * node:crypto does on all cores, one worker thread per core, each running flat out.
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { fileURLToPath } from 'node:url';

export type UnwrapAlg = 'RSA-OAEP-256' | 'ECDH-ES+A256KW';

interface Job {
  alg: UnwrapAlg;
  durationMs: number;
}

/** RFC 7518 4.6 Concat KDF for one 256-bit block, as ECDH-ES+A256KW uses it. */
function concatKdf(z: Buffer, alg: string): Buffer {
  const lengthPrefixed = (b: Buffer) => Buffer.concat([uint32(b.length), b]);
  const info = Buffer.concat([lengthPrefixed(Buffer.from(alg)), lengthPrefixed(Buffer.alloc(0)), lengthPrefixed(Buffer.alloc(0)), uint32(256)]);
  return createHash('sha256').update(Buffer.concat([uint32(1), z, info])).digest();
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Returns one unwrap operation, with its key material prepared outside the timed loop. */
function prepareUnwrap(alg: UnwrapAlg): () => void {
  const cek = randomBytes(32);
  if (alg === 'RSA-OAEP-256') {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
    return () => {
      privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
    };
  }
  const gateway = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ephemeral = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kek = concatKdf(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: gateway.publicKey }), alg);
  const wrapper = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  const wrapped = Buffer.concat([wrapper.update(cek), wrapper.final()]);
  return () => {
    const z = diffieHellman({ privateKey: gateway.privateKey, publicKey: ephemeral.publicKey });
    const unwrapper = createDecipheriv('id-aes256-wrap', concatKdf(z, alg), Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    Buffer.concat([unwrapper.update(wrapped), unwrapper.final()]);
  };
}


/**
 * The thread's unwrap rate in its best half-second window: the machine is shared, and a neighbour's
 * burst should not pass for what the machine can do.
 */
function runFlatOut(job: Job): number {
  const op = prepareUnwrap(job.alg);
  for (let i = 0; i < 50; i++) op(); // warm up
  const windowMs = Math.min(500, job.durationMs);
  const end = performance.now() + job.durationMs;
  let best = 0;
  while (performance.now() < end) {
    let ops = 0;
    const start = performance.now();
    while (performance.now() - start < windowMs) {
      op();
      ops++;
    }
    best = Math.max(best, (ops * 1000) / (performance.now() - start));
  }
  return best;
}

/** Unwraps per second summed over `threads` worker threads (default: every core), each at its best window. */
export async function measureCeiling(alg: UnwrapAlg, durationMs = 3000, threads = availableParallelism()): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const rates = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(self, { workerData: { alg, durationMs } satisfies Job });
          worker.once('message', (rate: number) => resolve(rate));
          worker.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
}

if (!isMainThread && parentPort) {
  parentPort.postMessage(runFlatOut(workerData as Job));
}
