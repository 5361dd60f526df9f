import type { Connection } from 'mongoose';

/**
 * Staff changes to what the request path caches (projects, products, cardholders), announced
 * within the process to the caches reading through the same connection. Other processes see a
 * change when their copy expires (CACHE_TTL_MS).
 */
export type CachedKind = 'project' | 'product' | 'cardholder';
type Listener = (kind: CachedKind, id: string) => void;

const listeners = new WeakMap<Connection, Set<Listener>>();

/** Subscribes to changes made through `connection`; returns the unsubscribe. */
export function onStaffChange(connection: Connection, listener: Listener): () => void {
  let set = listeners.get(connection);
  if (!set) {
    set = new Set();
    listeners.set(connection, set);
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** Called after every staff write to a cached document. */
export function announceStaffChange(connection: Connection, kind: CachedKind, id: string): void {
  for (const listener of listeners.get(connection) ?? []) listener(kind, id);
}
