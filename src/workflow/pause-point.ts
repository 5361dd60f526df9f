import type { Logger } from '../logging/logger.js';
import type { Order } from '../orders/order-model.js';

/** The workflow's steps where a test may hold a process (WORKFLOW_PAUSE_AT). */
export const PAUSE_STEPS = ['create', 'settle', 'charge', 'card', 'topup', 'verify', 'failure', 'refund'] as const;
export type PauseStep = (typeof PAUSE_STEPS)[number];

/**
 * A test-only hold in the middle of a step: after the step's decision and before the store is told
 * of it, which is where a holder that outlived its lease does harm. Given `step@project_id` (only
 * with NODE_ENV=test), the first order of that project to reach the step logs
 * `workflow paused for a test` and waits for SIGCONT: the test stops the process there (SIGSTOP),
 * lets another take the order over, and resumes it. `step+step@project_id` holds at each of the
 * steps once, so a test can hold a request twice (between its writes, then before it dies).
 * Without the setting, `at` returns at once.
 *
 * The request path has two: `create` (the queue entry written, the order not yet) and `settle`
 * (the order stored, not yet charged). The card operations reuse the workflow's: `topup` (the
 * provider loaded or unloaded the card, not yet noted), `verify` (its verification answered),
 * `card` (a freeze, unfreeze or terminate answered, the card not yet written), `failure`, `refund`.
 */
export class PausePoints {
  private readonly steps = new Set<string>();
  private readonly projectId: string | undefined;

  constructor(
    setting: string | undefined,
    nodeEnv: string,
    private readonly logger: Logger,
  ) {
    if (setting === undefined || nodeEnv !== 'test') return;
    const [steps = '', projectId] = setting.split('@');
    for (const step of steps.split('+')) this.steps.add(step);
    this.projectId = projectId;
  }

  async at(step: PauseStep, order: Pick<Order, '_id' | 'project_id'>): Promise<void> {
    if (!this.steps.has(step) || (this.projectId !== undefined && order.project_id !== this.projectId)) return;
    this.steps.delete(step);
    const resumed = new Promise<void>((resolve) => process.once('SIGCONT', () => resolve()));
    this.logger.warn('workflow paused for a test', { step, order_id: order._id });
    await resumed;
    this.logger.warn('workflow resumed', { step, order_id: order._id });
  }
}
