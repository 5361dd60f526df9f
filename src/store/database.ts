import mongoose, { type Connection } from 'mongoose';

export const DEFAULT_DB_NAME = 'card_gateway';

/**
 * How long a store call may take before it fails (and a request answers 503). Without bounds a
 * hung store (SIGSTOP, a stalled disk) holds a request for the socket's lifetime.
 */
export interface StoreTimeouts {
  /** Finding a usable server; also bounds opening a connection. */
  serverSelectionTimeoutMS: number;
  /** One reply on an open connection: a hung store fails calls after this long. */
  socketTimeoutMS: number;
}

/** Scripts and tests: generous, a scan of a large collection may take a while on the embedded store. */
const SCRIPT_TIMEOUTS: StoreTimeouts = { serverSelectionTimeoutMS: 10_000, socketTimeoutMS: 0 };

/**
 * Opens a mongoose connection. Indexes are not built implicitly (autoIndex off): the unique ones
 * carry the money invariants, so the app builds them explicitly and waits before it serves.
 * Commands are not buffered while disconnected (bufferCommands off): a call then fails within the
 * server selection timeout instead of waiting in mongoose's queue.
 */
export async function connectDatabase(uri: string, dbName?: string, timeouts: StoreTimeouts = SCRIPT_TIMEOUTS): Promise<Connection> {
  const hasDbInUri = /^mongodb(\+srv)?:\/\/[^/]+\/[^?]+/.test(uri);
  const connection = mongoose.createConnection(uri, {
    dbName: dbName ?? (hasDbInUri ? undefined : DEFAULT_DB_NAME),
    autoIndex: false,
    autoCreate: true,
    bufferCommands: false,
    serverSelectionTimeoutMS: timeouts.serverSelectionTimeoutMS,
    connectTimeoutMS: timeouts.serverSelectionTimeoutMS,
    socketTimeoutMS: timeouts.socketTimeoutMS,
    // A lost server is noticed (and a restarted one found again) within about a second.
    heartbeatFrequencyMS: 1000,
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
