import type { Connection } from 'mongoose';
import { onProjectChange } from './project-changes.js';
import type { Project } from './project-model.js';
import type { ProjectRepository } from './project-repository.js';

/** Enough for every partner of a deployment; beyond it the oldest entries go first. */
const MAX_ENTRIES = 10_000;

interface Entry {
  value: Promise<Project | null>;
  expiresAt: number;
}

/**
 * The secure channel's copy of projects, so a request does not read its project from the store.
 * Staleness is bounded: a copy is used for at most `ttlMs` after it was read, and a change made by
 * staff through this process (the admin API, the back office) drops it at once. Concurrent misses
 * for one project share one read. Unknown projects are not remembered (the next request reads
 * again), so a project created meanwhile is found at once. `ttlMs` 0 reads every time.
 */
export class ProjectCache {
  private readonly entries = new Map<string, Entry>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly repository: Pick<ProjectRepository, 'findById'>,
    connection: Connection,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = onProjectChange(connection, (id) => this.entries.delete(id));
  }

  findById(id: string): Promise<Project | null> {
    if (this.ttlMs === 0) return this.repository.findById(id);
    const hit = this.entries.get(id);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const entry: Entry = { value: this.repository.findById(id), expiresAt: this.now() + this.ttlMs };
    this.entries.delete(id); // re-inserted last: Map order is the eviction order
    this.entries.set(id, entry);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    // A miss or a failed read is not kept; only the entry itself is dropped (a newer one may exist).
    const drop = () => {
      if (this.entries.get(id) === entry) this.entries.delete(id);
    };
    entry.value.then((project) => project ?? drop(), drop);
    return entry.value;
  }

  close(): void {
    this.unsubscribe();
    this.entries.clear();
  }
}
