import assert from 'node:assert/strict';
import { ChainFingerprint, type ChainLink } from '../../src/reconcile/chain-fingerprint.js';

/** A whole chain of `amounts`, seq 1..n, starting at 0. */
function chain(amounts: number[]): ChainLink[] {
  let balance = 0;
  return amounts.map((amount, i) => {
    const link = { seq: i + 1, balance_before: balance, balance_after: balance + amount };
    balance += amount;
    return link;
  });
}

function intact(links: ChainLink[]): boolean {
  const fingerprint = new ChainFingerprint();
  for (const link of links) fingerprint.add(link);
  return fingerprint.intact();
}

/** The reconciler reads entries in order-id order: any order must do. */
function shuffled<T>(items: T[]): T[] {
  return items.map((item, i) => ({ item, key: (i * 7919) % 101 })).sort((a, b) => a.key - b.key).map((x) => x.item);
}

describe('the ledger chain fingerprint', () => {
  const whole = chain([100_000_000_000_000, -1500, -1200, 1200, -900, 2 ** 40, -1300, 1000]);

  it('when the chain is whole, in any order, or empty, then it is intact', () => {
    assert.equal(intact(whole), true);
    assert.equal(intact(shuffled(whole)), true);
    assert.equal(intact([...whole].reverse()), true);
    assert.equal(intact([]), true);
  });

  it('when the chain is whole, then its head is the last seq and its balance', () => {
    const fingerprint = new ChainFingerprint();
    for (const link of shuffled(whole)) fingerprint.add(link);
    assert.equal(fingerprint.headSeq, whole.length);
    assert.equal(fingerprint.headBalance, whole.at(-1)!.balance_after);
  });

  it('when an entry is missing, duplicated or renumbered, then it is broken', () => {
    assert.equal(intact(whole.filter((l) => l.seq !== 3)), false, 'a gap');
    assert.equal(intact(whole.slice(1)), false, 'the first entry missing');
    assert.equal(intact([...whole, { ...whole.at(-1)! }]), false, 'the last entry twice');
    assert.equal(intact([...whole, { ...whole.at(-1)!, seq: whole.length + 1, balance_before: whole.at(-1)!.balance_before }]), false, 'a copy under a new seq');
    const [a, b] = [whole[2]!, whole[3]!];
    assert.equal(intact(whole.map((l) => (l === a ? { ...l, seq: b.seq } : l === b ? { ...l, seq: a.seq } : l))), false, 'two seqs swapped');
    assert.equal(intact(whole.map((l) => ({ ...l, seq: l.seq + 1 }))), false, 'seqs from 2');
  });

  it('when a link does not hold, then it is broken', () => {
    assert.equal(intact(whole.map((l) => (l.seq === 4 ? { ...l, balance_before: l.balance_before + 1 } : l))), false, 'a balance_before off by one');
    assert.equal(intact(whole.map((l) => (l.seq === 4 ? { ...l, balance_after: l.balance_after + 2 ** 32 } : l))), false, 'a balance_after off by 2^32');
    assert.equal(intact(whole.map((l) => ({ ...l, balance_before: l.balance_before + 5, balance_after: l.balance_after + 5 }))), false, 'a chain that starts at 5');
  });

  it('when a value is not a safe integer, then it is broken (the walk then names what is wrong)', () => {
    assert.equal(intact(whole.map((l) => (l.seq === 2 ? { ...l, balance_after: l.balance_after + 0.5 } : l))), false);
    assert.equal(intact(whole.map((l) => (l.seq === 2 ? { ...l, balance_before: Number.NaN } : l))), false);
  });
});
