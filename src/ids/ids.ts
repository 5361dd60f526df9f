import { createHash, randomBytes } from 'node:crypto';

/** Prefixed random ids (`ord_…`, `card_…`): unguessable, sortable by nothing, readable in support tools. */
export function newId(prefix: 'prj' | 'ord' | 'card' | 'ch' | 'pcard' | 'prod'): string {
  return `${prefix}_${randomBytes(15).toString('base64url')}`;
}

/**
 * Ids derived from what makes a document unique, so that finding it is a lookup by `_id`.
 * Every hot lookup goes by `_id`: it is the one lookup both MongoDB and the embedded FerretDB
 * answer from an index (store-server/patches/README.md). The same shape as newId's (prefix and
 * 120 bits), so the two kinds mix in every tool. The parts are joined with NUL, which no part may
 * contain (ids and idempotency keys are printable), so two tuples never give the same input.
 */
function derivedId(prefix: 'ord' | 'card' | 'ch' | 'evt', ...parts: string[]): string {
  const digest = createHash('sha256').update(`${prefix}\0${parts.join('\0')}`).digest();
  return `${prefix}_${digest.subarray(0, 15).toString('base64url')}`;
}

/** The order a project's idempotency key names: concurrent creates with one key race for one `_id`. */
export function orderIdFor(projectId: string, idempotencyKey: string): string {
  return derivedId('ord', projectId, idempotencyKey);
}

/** A project's cardholder, named by the partner's external_user_id. */
export function cardholderIdFor(projectId: string, externalUserId: string): string {
  return derivedId('ch', projectId, externalUserId);
}

/** The one card of an order. */
export function cardIdFor(orderId: string): string {
  return derivedId('card', orderId);
}

/** The webhook event of a subject (an order, later a card) reaching a state: recorded once, however often it is derived. */
export function eventIdFor(subjectId: string, state: string): string {
  return derivedId('evt', subjectId, state);
}
