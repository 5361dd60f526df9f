import type { Order, OrderType } from '../orders/order-model.js';
import type { StepOutcome } from './issuance-workflow.js';

/** One step of an order's workflow (see IssuanceWorkflow.step for the contract of a step). */
export interface OrderWorkflow {
  step(order: Order): Promise<StepOutcome>;
}

/**
 * The one worker drives every kind of order through the same claims, fence and queue; this picks
 * the workflow by order_type. A type nobody registered (deposits) has no steps: done.
 */
export class WorkflowRegistry implements OrderWorkflow {
  private readonly byType = new Map<OrderType, OrderWorkflow>();

  register(types: readonly OrderType[], workflow: OrderWorkflow): void {
    for (const type of types) {
      if (this.byType.has(type)) throw new Error(`a workflow for ${type} is registered already`);
      this.byType.set(type, workflow);
    }
  }

  /** The order types that have a workflow (the queue recovers unfinished orders of these). */
  types(): OrderType[] {
    return [...this.byType.keys()];
  }

  step(order: Order): Promise<StepOutcome> {
    const workflow = this.byType.get(order.order_type);
    return workflow ? workflow.step(order) : Promise.resolve({ next: 'done' });
  }
}
