import { randomBytes } from 'node:crypto';

/** What the fingerprint reads of an entry. */
export interface ChainLink {
  seq: number;
  balance_before: number;
  balance_after: number;
}

/**
 * Whether a project's ledger chain links up, read in any order (so reconciliation can check it in
 * the same pass that reads each entry beside its order, instead of a second, seq-ordered read).
 *
 * The chain is whole when seqs are 1..n, each once, and each entry's balance_before is the
 * previous seq's balance_after (0 for seq 1). Equivalently, the multiset of starts
 * {(seq, balance_before)} equals the multiset of ends {(1, 0)} + {(seq + 1, balance_after)} minus
 * the last entry's end: counting each seq on both sides forces 1..n without gaps or duplicates, and
 * each pair then forces one link. Both multisets are summed as 64-bit hashes (two murmur3 lanes
 * with a fresh random seed per run, so a fault cannot be shaped in advance to cancel out; not a
 * cryptographic guarantee): a whole chain always compares equal, a broken one only by a 64-bit
 * coincidence. A value that is not a safe integer cannot be hashed exactly and counts as broken.
 * The caller walks a broken chain in seq order to name its faults.
 */
export class ChainFingerprint {
  private readonly seeds: [number, number];
  private readonly starts: [number, number] = [0, 0];
  private readonly ends: [number, number] = [0, 0];
  private exact = true;
  count = 0;
  /** The highest seq seen and its balance_after: the chain's head, when the chain is whole. */
  headSeq = -Infinity;
  headBalance = 0;

  constructor() {
    const key = randomBytes(8);
    this.seeds = [key.readUInt32LE(0), key.readUInt32LE(4)];
  }

  add(entry: ChainLink): void {
    this.count++;
    if (!Number.isSafeInteger(entry.seq) || !Number.isSafeInteger(entry.balance_before) || !Number.isSafeInteger(entry.balance_after)) {
      this.exact = false;
      return;
    }
    for (const lane of [0, 1] as const) {
      this.starts[lane] = (this.starts[lane] + hash(this.seeds[lane], entry.seq, entry.balance_before)) >>> 0;
      this.ends[lane] = (this.ends[lane] + hash(this.seeds[lane], entry.seq + 1, entry.balance_after)) >>> 0;
    }
    if (entry.seq > this.headSeq) {
      this.headSeq = entry.seq;
      this.headBalance = entry.balance_after;
    }
  }

  intact(): boolean {
    if (this.count === 0) return true;
    if (!this.exact) return false;
    return ([0, 1] as const).every((lane) => {
      const seed = this.seeds[lane];
      const expected = this.ends[lane] + hash(seed, 1, 0) - hash(seed, this.headSeq + 1, this.headBalance);
      return this.starts[lane] === expected >>> 0;
    });
  }
}

/** murmur3's 32-bit hash of (seq, value) as four 32-bit words; both are safe integers. */
function hash(seed: number, seq: number, value: number): number {
  let h = seed;
  for (const word of [seq >>> 0, Math.floor(seq / 2 ** 32) | 0, value >>> 0, Math.floor(value / 2 ** 32) | 0]) {
    let k = Math.imul(word, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= 16;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
