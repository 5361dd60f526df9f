import type { Context } from 'mocha';
import { closeTestStore, openTestStore } from './test-store.js';

/** Opens the real database once for the whole suite. */
export const mochaHooks = {
  async beforeAll(this: Context) {
    this.timeout(120_000);
    await openTestStore();
  },
  async afterAll(this: Context) {
    this.timeout(30_000);
    await closeTestStore();
  },
};
