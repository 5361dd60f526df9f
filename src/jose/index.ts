/**
 * The gateway's JOSE functions: the partner client package's JOSE layer (one implementation for
 * both sides of the envelope; only that layer imports `jose`), plus what only the gateway needs.
 */
export * from '@card-gateway/client/jose';
export { KeyCache } from './key-cache.js';
