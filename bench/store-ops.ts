/**
 * Loaded into the gateway with NODE_OPTIONS="--import ./dist/bench/store-ops.js": counts every
 * store command the gateway sends (by command and collection, with its total round-trip time) and
 * writes the table to STORE_OPS_FILE (default `store-ops-<pid>.json`) when the process exits.
 * It answers "which store operations does an order cost" without reading the code paths.
 */
import { writeFileSync } from 'node:fs';
import mongoose from 'mongoose';

interface OpStats {
  count: number;
  totalMs: number;
}

const file = process.env.STORE_OPS_FILE ?? `store-ops-${process.pid}.json`;
const stats = new Map<string, OpStats>();
// requestId -> "command collection", set when the command starts.
const started = new Map<number, string>();

// The gateway opens its connections with mongoose.createConnection; turn on command monitoring there.
const createConnection = mongoose.createConnection.bind(mongoose);
mongoose.createConnection = ((uri: string, options: mongoose.ConnectOptions = {}) => {
  const connection = createConnection(uri, { ...options, monitorCommands: true });
  void connection.asPromise().then(() => {
    const client = connection.getClient();
    client.on('commandStarted', (event) => {
      const collection = event.command[event.commandName] as unknown;
      started.set(event.requestId, `${event.commandName} ${typeof collection === 'string' ? collection : ''}`.trim());
    });
    const finish = (event: { requestId: number; duration: number }): void => {
      const key = started.get(event.requestId);
      if (!key) return;
      started.delete(event.requestId);
      const entry = stats.get(key) ?? { count: 0, totalMs: 0 };
      entry.count += 1;
      entry.totalMs += event.duration;
      stats.set(key, entry);
    };
    client.on('commandSucceeded', finish);
    client.on('commandFailed', finish);
  });
  return connection;
}) as typeof mongoose.createConnection;

process.on('exit', () => {
  const rows = [...stats.entries()]
    .map(([op, s]) => ({ op, count: s.count, totalMs: Math.round(s.totalMs), meanMs: Number((s.totalMs / s.count).toFixed(2)) }))
    .sort((a, b) => b.totalMs - a.totalMs);
  writeFileSync(file, JSON.stringify(rows, null, 2));
});
