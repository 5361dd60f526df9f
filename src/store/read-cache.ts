/** Enough for every partner, product and active cardholder of a deployment; the oldest go first. */
const MAX_ENTRIES = 10_000;

interface Entry<V> {
  value: Promise<V | null>;
  expiresAt: number;
}

/**
 * Documents the request path reads on every request and staff change rarely. A copy is used for
 * at most `ttlMs` after it was read (the staleness bound across processes); `delete`/`clear` drop
 * copies at once (staff changes in this process). Concurrent misses for one key share one read. A
 * miss (null) or a failed read is not kept, so a document created meanwhile is found at once.
 * `ttlMs` 0 reads every time.
 */
export class ReadCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `load` may return a mongoose query: it is run once, through Promise.resolve. */
  get(key: string, load: () => PromiseLike<V | null>): Promise<V | null> {
    if (this.ttlMs === 0) return Promise.resolve(load());
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const entry: Entry<V> = { value: Promise.resolve(load()), expiresAt: this.now() + this.ttlMs };
    this.entries.delete(key); // re-inserted last: Map order is the eviction order
    this.entries.set(key, entry);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    const drop = () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
    entry.value.then((found) => found ?? drop(), drop);
    return entry.value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
