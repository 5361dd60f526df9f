import type { Connection } from 'mongoose';

/**
 * Staff changes to a project (status, keys), announced within the process to whoever caches
 * projects read through the same connection. Other processes see the change when their copy
 * expires (PROJECT_CACHE_TTL_MS).
 */
type Listener = (projectId: string) => void;

const listeners = new WeakMap<Connection, Set<Listener>>();

/** Subscribes to changes made through `connection`; returns the unsubscribe. */
export function onProjectChange(connection: Connection, listener: Listener): () => void {
  let set = listeners.get(connection);
  if (!set) {
    set = new Set();
    listeners.set(connection, set);
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** Called after every write to a project document. */
export function announceProjectChange(connection: Connection, projectId: string): void {
  for (const listener of listeners.get(connection) ?? []) listener(projectId);
}
