/**
 * Unique indexes are how this gateway gets exactly-once effects without transactions
 * (contract section 6): the insert that loses a race fails with E11000. This maps that driver
 * error to a domain error, and leaves every other error alone.
 */

export class DuplicateKeyError extends Error {
  override name = 'DuplicateKeyError';

  constructor(
    /** Name of the collection whose unique index refused the insert. */
    readonly collection: string,
    /** The index, where the server says which (MongoDB does; FerretDB may not). */
    readonly index?: string,
  ) {
    super(`duplicate key in ${collection}${index ? ` (${index})` : ''}`);
  }
}

export function isDuplicateKeyError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; writeErrors?: { code?: unknown }[] };
  return e.code === 11000 || (Array.isArray(e.writeErrors) && e.writeErrors.some((w) => w.code === 11000));
}

/** Runs an insert; a duplicate becomes DuplicateKeyError, anything else is rethrown unchanged. */
export async function insertUnique<T>(collection: string, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const message = (err as { message?: string }).message ?? '';
    const index = /index: (\S+)/.exec(message)?.[1];
    throw new DuplicateKeyError(collection, index);
  }
}
