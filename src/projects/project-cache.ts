import type { Connection } from 'mongoose';
import { onStaffChange } from '../store/change-notices.js';
import { ReadCache } from '../store/read-cache.js';
import type { Project } from './project-model.js';
import type { ProjectRepository } from './project-repository.js';

/**
 * The secure channel's copy of projects, so a request does not read its project from the store:
 * at most `ttlMs` old, dropped at once when staff change the project through this process (the
 * admin API, the back office). See ReadCache.
 */
export class ProjectCache {
  private readonly cache: ReadCache<Project>;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly repository: Pick<ProjectRepository, 'findById'>,
    connection: Connection,
    ttlMs: number,
    now: () => number = Date.now,
  ) {
    this.cache = new ReadCache(ttlMs, now);
    this.unsubscribe = onStaffChange(connection, (kind, id) => {
      if (kind === 'project') this.cache.delete(id);
    });
  }

  findById(id: string): Promise<Project | null> {
    return this.cache.get(id, () => this.repository.findById(id));
  }

  close(): void {
    this.unsubscribe();
    this.cache.clear();
  }
}
