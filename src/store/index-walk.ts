import type { Model } from 'mongoose';

/**
 * The distinct string values of an indexed field, in order, by one index seek per value
 * (`{field: {$gt: last}}` sorted by the field, limit 1) instead of `distinct`, which reads and
 * decodes every document on the embedded store. For fields that are always strings (a value of
 * another type is not listed); costs O(values × log n), whatever the collection's size.
 */
export async function distinctStrings<T>(model: Model<T>, field: string): Promise<string[]> {
  const values: string[] = [];
  let last = '';
  let first = true;
  for (;;) {
    const bound = first ? { $gte: last } : { $gt: last };
    const row = await model
      .findOne({ [field]: bound } as never, { [field]: 1, _id: 0 })
      .sort({ [field]: 1 })
      .lean<Record<string, unknown>>();
    const value = row?.[field];
    if (typeof value !== 'string') return values;
    values.push(value);
    last = value;
    first = false;
  }
}
