/**
 * A bounded cache of imported keys. Callers key it by everything that identifies the key version
 * (e.g. project, kid and the project's updated_at), so a changed document never hits a stale key.
 */
export class KeyCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly maxEntries = 10_000) {}

  getOrCreate(cacheKey: string, create: () => V): V {
    const hit = this.entries.get(cacheKey);
    if (hit !== undefined) return hit;
    const value = create();
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(cacheKey, value);
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
