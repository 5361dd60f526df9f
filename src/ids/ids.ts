import { randomBytes } from 'node:crypto';

/** Prefixed random ids (`ord_…`, `card_…`): unguessable, sortable by nothing, readable in support tools. */
export function newId(prefix: 'prj' | 'ord' | 'card' | 'ch' | 'pcard' | 'prod'): string {
  return `${prefix}_${randomBytes(15).toString('base64url')}`;
}
