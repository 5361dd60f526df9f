import mongoose, { type Connection } from 'mongoose';

export const DEFAULT_DB_NAME = 'card_gateway';

/**
 * Opens a mongoose connection. Indexes are not built implicitly (autoIndex off): the unique ones
 * carry the money invariants, so the app builds them explicitly and waits before it serves.
 */
export async function connectDatabase(uri: string, dbName?: string): Promise<Connection> {
  const hasDbInUri = /^mongodb(\+srv)?:\/\/[^/]+\/[^?]+/.test(uri);
  const connection = mongoose.createConnection(uri, {
    dbName: dbName ?? (hasDbInUri ? undefined : DEFAULT_DB_NAME),
    autoIndex: false,
    autoCreate: true,
    serverSelectionTimeoutMS: 10_000,
    maxPoolSize: 50,
    // Store-call metrics come from the driver's command events (src/metrics/metrics.ts).
    monitorCommands: true,
  });
  await connection.asPromise();
  return connection;
}

/** Answers whether the database is reachable; used by /readyz. */
export async function pingDatabase(connection: Connection, timeoutMs = 2000): Promise<boolean> {
  const db = connection.db;
  if (!db || connection.readyState !== mongoose.ConnectionStates.connected) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.command({ ping: 1 }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('ping timeout')), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
