import type { Model } from 'mongoose';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import type { WebhookEvent, WebhookModels } from './webhook-models.js';

const BATCH = 500;
/** Rows written by a slow writer may carry an updated_at a little behind the watermark. */
const OVERLAP_MS = 5_000;
const REMEMBERED = 50_000;

/** A row an outbox derives events from: anything with an id and the time it last changed. */
export interface ChangedRow {
  _id: string;
  project_id: string;
  updated_at: Date;
}

/**
 * One pass of an outbox (order-events.ts, cardholder-events.ts) over a collection's changes: the
 * rows changed since the scan's watermark (minus an overlap), in (updated_at, _id) order on that
 * index, batch by batch, each given to the visitor `begin` returns for the projects that have an
 * active endpoint. The watermark moves only after every row was visited, so a crash repeats rows,
 * never skips them. A first scan starts now: an endpoint receives what happens after it is
 * registered. Returns the number of events the visitor stored.
 */
export async function scanChanges<T extends ChangedRow>(
  models: WebhookModels,
  scanId: string,
  rows: Model<T>,
  now: Date,
  begin: (watched: Set<string>) => Promise<(row: T) => Promise<number>>,
): Promise<number> {
  const endpoints = await models.endpoints.find({ status: 'active' }, { _id: 1 }).lean<{ _id: string }[]>();
  const state = await models.scans.findById(scanId).lean();
  let watermark = state?.watermark ?? now;
  if (endpoints.length === 0) return 0;
  const watched = new Set(endpoints.map((e) => e._id));
  const visit = await begin(watched);

  let stored = 0;
  let after: { at: Date; id: string } | undefined;
  const from = new Date(watermark.getTime() - OVERLAP_MS);
  for (;;) {
    const query: Record<string, unknown> = after
      ? // The plain bound beside the $or is what the (updated_at, _id) index is searched by.
        { updated_at: { $gte: after.at }, $or: [{ updated_at: { $gt: after.at } }, { updated_at: after.at, _id: { $gt: after.id } }] }
      : { updated_at: { $gte: from } };
    const batch = await rows.find(query).sort({ updated_at: 1, _id: 1 }).limit(BATCH).lean<T[]>();
    for (const row of batch) {
      if (watched.has(row.project_id)) stored += await visit(row);
      if (row.updated_at > watermark) watermark = row.updated_at;
    }
    if (batch.length < BATCH) break;
    after = { at: batch.at(-1)!.updated_at, id: batch.at(-1)!._id };
  }
  await models.scans.updateOne({ _id: scanId }, { $set: { watermark, updated_at: new Date() } }, { upsert: true }).catch((err: unknown) => {
    if (!isDuplicateKeyError(err)) throw err; // two first scans raced: the other one's watermark stands
  });
  return stored;
}

/** Event ids this process stored or found stored, so a scan's overlap costs no repeated inserts. Bounded. */
export class RecordedIds {
  private readonly ids = new Set<string>();

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > REMEMBERED) this.ids.delete(this.ids.values().next().value!);
  }
}

/** Inserts an event under its derived id; false when it was stored already (by another scan or process). */
export async function insertEvent(models: WebhookModels, event: WebhookEvent): Promise<boolean> {
  try {
    await models.events.collection.insertOne({ ...event } as never);
    return true;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return false;
  }
}
