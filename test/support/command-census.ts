/**
 * Loaded into a gateway or script process with NODE_OPTIONS="--import ./dist/test/support/command-census.js":
 * records each distinct query the process sends to the store (command, collection, the filter's
 * shape and the sort), once, with the values of its first occurrence, one Extended JSON line each in
 * COMMAND_CENSUS_FILE. test/store/query-census.test.ts then asks the store for the plan of each.
 * Only filters and sorts are written, never documents or update values.
 */
import { appendFileSync } from 'node:fs';
import mongoose from 'mongoose';

export interface CensusEntry {
  command: string;
  collection: string;
  db: string;
  filter: Record<string, unknown>;
  sort?: Record<string, unknown>;
  /** A find's limit: an index walked in the sort's order then reads only that many. */
  limit?: number;
}

const file = process.env.COMMAND_CENSUS_FILE;
const { EJSON } = mongoose.mongo.BSON;
const seen = new Set<string>();

/** The filter with every value replaced by its type: two queries of one shape differ only in values. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value instanceof Date) return 'date';
  if (value !== null && typeof value === 'object' && value.constructor === Object) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  }
  return typeof value;
}

/** The filters (and sort) a command runs, as the store's query path sees them. */
function queriesOf(name: string, command: Record<string, unknown>): Pick<CensusEntry, 'filter' | 'sort' | 'limit'>[] {
  const asDoc = (v: unknown) => (v ?? {}) as Record<string, unknown>;
  switch (name) {
    case 'find':
      return [
        {
          filter: asDoc(command.filter),
          ...(command.sort !== undefined && { sort: asDoc(command.sort) }),
          ...(typeof command.limit === 'number' && { limit: command.limit }),
        },
      ];
    case 'count':
    case 'distinct':
      return [{ filter: asDoc(command.query) }];
    case 'findAndModify':
      return [{ filter: asDoc(command.query), ...(command.sort !== undefined && { sort: asDoc(command.sort) }) }];
    case 'update':
      return ((command.updates ?? []) as { q: unknown }[]).map((u) => ({ filter: asDoc(u.q) }));
    case 'delete':
      return ((command.deletes ?? []) as { q: unknown }[]).map((d) => ({ filter: asDoc(d.q) }));
    case 'aggregate': {
      const first = ((command.pipeline ?? []) as Record<string, unknown>[])[0];
      return [{ filter: asDoc(first?.$match) }];
    }
    default:
      return [];
  }
}

if (file) {
  const createConnection = mongoose.createConnection.bind(mongoose);
  mongoose.createConnection = ((uri: string, options: mongoose.ConnectOptions = {}) => {
    const connection = createConnection(uri, { ...options, monitorCommands: true });
    void connection.asPromise().then(() => {
      connection.getClient().on('commandStarted', (event) => {
        const collection = event.command[event.commandName] as unknown;
        if (typeof collection !== 'string') return;
        for (const q of queriesOf(event.commandName, event.command)) {
          const key = JSON.stringify([event.commandName, collection, shape(q.filter), q.sort]);
          if (seen.has(key)) continue;
          seen.add(key);
          const entry: CensusEntry = { command: event.commandName, collection, db: event.databaseName, ...q };
          appendFileSync(file, `${EJSON.stringify(entry, { relaxed: false })}\n`);
        }
      });
    });
    return connection;
  }) as typeof mongoose.createConnection;
}
