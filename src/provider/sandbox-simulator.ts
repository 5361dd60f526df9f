import { randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { cardholderIdFor } from '../ids/ids.js';
import { orderModel, type Order } from '../orders/order-model.js';
import { ProviderError } from './card-provider.js';
import type { ProviderClient } from './http/provider-client.js';

const failure = z.object({ failure: z.enum(['declined', 'unavailable', 'timeout']), times: z.number().int().min(1).max(100) }).strict();

/** The simulator's requests (partners send them too, through the secure channel). */
export const sandboxRuleRequest = z
  .object({
    external_user_id: z.string().min(1).max(128),
    card_issue: z.enum(['auto', 'hold', 'fail']).default('auto'),
    create_card_failure: failure.optional(),
    topup_failure: failure.optional(),
    topup_result: z.enum(['succeed', 'fail', 'verify_fail']).default('succeed'),
  })
  .strict();

export const sandboxCardRequest = z.object({ order_id: z.string().min(1).max(64) }).strict();

export type SandboxRuleRequest = z.infer<typeof sandboxRuleRequest>;
type SandboxRule = Omit<SandboxRuleRequest, 'external_user_id'>;

/**
 * The partner-facing sandbox: drives the provider simulator (provider-sim/, docs/provider.md) for
 * the caller's project. Rules are kept by the simulator per cardholder account; a held card is
 * issued or failed with the simulator's `PATCH /v1/simulator/cards/{cardId}/issue|fail`.
 */
export class SandboxSimulator {
  private readonly orders: Model<Order>;

  constructor(
    connection: Connection,
    private readonly client: ProviderClient,
  ) {
    this.orders = orderModel(connection);
  }

  async setRule(projectId: string, request: SandboxRuleRequest): Promise<SandboxRule & { external_user_id: string }> {
    const { external_user_id, ...rule } = request;
    await this.client.send('PUT', rulePath(projectId, external_user_id), { idempotencyKey: `rule:${randomUUID()}`, body: rule });
    return { external_user_id, ...rule };
  }

  async clearRule(projectId: string, externalUserId: string): Promise<SandboxRule & { external_user_id: string }> {
    await this.client.send('DELETE', rulePath(projectId, externalUserId), { idempotencyKey: `rule:${randomUUID()}` });
    return { external_user_id: externalUserId, card_issue: 'auto', topup_result: 'succeed' };
  }

  /** Issues (or fails) the held card of an order: `issuing` -> `active` | `failed`. */
  async settleHeldCard(projectId: string, orderId: string, outcome: 'active' | 'failed'): Promise<{ order_id: string; provider_card_status: string }> {
    const order = await this.orders.findOne({ _id: orderId, project_id: projectId }, { provider_card_id: 1 }).lean<Pick<Order, 'provider_card_id'>>();
    if (!order?.provider_card_id) throw new GatewayError('card_not_found', 'No sandbox card is held for this order yet.');
    const action = outcome === 'active' ? 'issue' : 'fail';
    try {
      await this.client.send('PATCH', `/v1/simulator/cards/${encodeURIComponent(order.provider_card_id)}/${action}`, {
        idempotencyKey: `${orderId}:simulator-${action}`,
      });
    } catch (err) {
      if (err instanceof ProviderError && err.status === 409) throw new GatewayError('conflict', 'The sandbox card is no longer issuing.');
      throw err;
    }
    return { order_id: orderId, provider_card_status: outcome };
  }
}

function rulePath(projectId: string, externalUserId: string): string {
  return `/v1/simulator/rules/${encodeURIComponent(cardholderIdFor(projectId, externalUserId))}`;
}
