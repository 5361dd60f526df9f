import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Connection, Model } from 'mongoose';
import { projectRoot } from '../../src/store/project-root.js';
import { dropIsolatedDb, isolatedDb } from '../support/isolated-db.js';
import { startTestGateway, type TestGateway } from '../support/partner.js';

/**
 * docs/operations.md says how each collection is sharded ("Shard keys"). On a sharded cluster
 * MongoDB enforces a unique index across shards only when it starts with the shard key, and `_id`
 * only per shard unless `_id` is the key: so every exactly-once guarantee (an insert against a
 * unique key) holds there only if the documented keys fit the indexes the gateway declares. This
 * reads every model the gateway registers, so a new collection without a documented key fails.
 */

const DOC = 'docs/operations.md';
const TABLE_HEADING = /^#{2,4} Shard keys\s*$/;
/** What the `_id` column may say of a sharded collection. */
const ID_RULES = ['is the shard key', 'implies the shard key', 'not relied on'] as const;

interface Row {
  collection: string;
  /** Shard key fields in order, or undefined for an unsharded collection. */
  key?: string[];
  idRule: string;
  line: number;
}

/** The shard key table: `| \`collection\` | \`{ field: 1 }\` or unsharded | _id rule | why |`. */
function shardKeyTable(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => TABLE_HEADING.test(l));
  assert.ok(start >= 0, `${DOC} has no "Shard keys" heading`);
  const rows: Row[] = [];
  for (let i = start + 1; i < lines.length && !/^#{1,4}\s/.test(lines[i]!); i++) {
    const cells = /^\|(.*)\|\s*$/.exec(lines[i]!)?.[1]?.split('|').map((c) => c.trim());
    const collection = cells && /^`([a-z_]+)`$/.exec(cells[0]!)?.[1];
    if (!cells || !collection) continue;
    const keyCell = cells[1] ?? '';
    const key = keyCell === 'unsharded' ? undefined : /^`\{ (.+) \}`$/.exec(keyCell)?.[1]?.split(',').map((part) => part.split(':')[0]!.trim());
    assert.ok(keyCell === 'unsharded' || key, `${DOC}:${i + 1}: the shard key of ${collection} must be \`{ field: 1, … }\` or unsharded, not ${keyCell}`);
    rows.push({ collection, ...(key && { key }), idRule: cells[2] ?? '', line: i + 1 });
  }
  return rows;
}

function uniqueIndexes(model: Model<unknown>): string[][] {
  return model.schema
    .indexes()
    .filter(([, options]) => (options as { unique?: boolean }).unique === true)
    .map(([fields]) => Object.keys(fields));
}

/** The problems of a documented table against the models: one line each, saying what to change. */
function shardKeyProblems(rows: Row[], models: Model<unknown>[]): string[] {
  const problems: string[] = [];
  const documented = new Map(rows.map((r) => [r.collection, r]));
  const collections = new Set(models.map((m) => m.collection.collectionName));
  for (const model of models) {
    const name = model.collection.collectionName;
    const row = documented.get(name);
    if (!row) {
      problems.push(`collection ${name} (model ${model.modelName}) has no row in the "Shard keys" table of ${DOC}: add its shard key (or unsharded), what its _id is to that key, and why its unique keys hold`);
      continue;
    }
    if (!row.key) continue;
    for (const fields of uniqueIndexes(model)) {
      const prefixed = row.key.every((field, i) => fields[i] === field);
      if (!prefixed) {
        problems.push(`${DOC}:${row.line}: ${name} is sharded on { ${row.key.join(', ')} }, but its unique index (${fields.join(', ')}) does not start with that key, so MongoDB cannot enforce it across shards`);
      }
    }
    const idIsKey = row.key.length === 1 && row.key[0] === '_id';
    if (!(ID_RULES as readonly string[]).includes(row.idRule)) {
      problems.push(`${DOC}:${row.line}: the _id column of ${name} must say one of: ${ID_RULES.join('; ')}`);
    } else if (idIsKey !== (row.idRule === 'is the shard key')) {
      problems.push(`${DOC}:${row.line}: ${name}'s _id column says "${row.idRule}" but its shard key is { ${row.key.join(', ')} }`);
    }
  }
  for (const row of rows) if (!collections.has(row.collection)) problems.push(`${DOC}:${row.line}: ${row.collection} is not a collection of the gateway`);
  return problems;
}

describe('shard keys: every collection documented, every unique index enforceable on a sharded cluster', function () {
  this.timeout(120_000);
  let connection: Connection;
  let gateway: TestGateway;

  before(async () => {
    connection = await isolatedDb('shard_keys');
    gateway = await startTestGateway({ connection });
  });
  after(async () => {
    await gateway.close();
    await dropIsolatedDb(connection);
  });

  it('when the gateway has registered its models, then each has a documented shard key that starts every unique index it declares', async () => {
    const models = Object.values(connection.models) as Model<unknown>[];
    assert.ok(models.length >= 15, `only ${models.length} models registered`);
    const rows = shardKeyTable(await readFile(path.join(projectRoot(), DOC), 'utf8'));
    const problems = shardKeyProblems(rows, models);
    assert.deepEqual(problems, [], problems.join('\n'));
    // The keys the contract names: the money and the partner's data are sharded by project.
    for (const collection of ['orders', 'ledger_entries', 'cards', 'cardholders']) {
      assert.deepEqual(rows.find((r) => r.collection === collection)?.key, ['project_id'], `${collection} is sharded by project_id`);
    }
  });

  it('when a model is undocumented, or its unique index does not start with its shard key, then the check says what to change', () => {
    const models = Object.values(connection.models) as Model<unknown>[];
    const ledger = models.find((m) => m.collection.collectionName === 'ledger_entries')!;
    const rows: Row[] = [
      { collection: 'ledger_entries', key: ['order_id'], idRule: 'implies the shard key', line: 7 },
      { collection: 'retired_things', idRule: '', line: 8 },
    ];
    const problems = shardKeyProblems(rows, [ledger, models.find((m) => m.collection.collectionName === 'orders')!]);
    assert.deepEqual(problems, [
      `${DOC}:7: ledger_entries is sharded on { order_id }, but its unique index (project_id, seq) does not start with that key, so MongoDB cannot enforce it across shards`,
      `${DOC}:7: ledger_entries is sharded on { order_id }, but its unique index (project_id, order_id, kind) does not start with that key, so MongoDB cannot enforce it across shards`,
      `collection orders (model Order) has no row in the "Shard keys" table of ${DOC}: add its shard key (or unsharded), what its _id is to that key, and why its unique keys hold`,
      `${DOC}:8: retired_things is not a collection of the gateway`,
    ]);
    const hashedId = shardKeyProblems([{ collection: 'ledger_entries', key: ['_id'], idRule: 'implies the shard key', line: 9 }], [ledger]);
    assert.ok(hashedId.some((p) => p.includes(`_id column says "implies the shard key" but its shard key is { _id }`)), hashedId.join('\n'));
  });
});
