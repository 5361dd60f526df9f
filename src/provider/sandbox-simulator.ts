import type { Connection } from 'mongoose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { sandboxModels, type SandboxModels, type SandboxRule } from './sandbox-models.js';
import { DEFAULT_RULE, ruleId } from './sandbox-provider.js';

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

/**
 * The sandbox simulator (in the spirit of an issuer's `PATCH /simulator/cards/{id}/issue`): per
 * cardholder rules for how the sandbox provider behaves, and the hand that issues or fails a card
 * held at `issuing`. Everything is scoped to the calling project.
 */
export class SandboxSimulator {
  private readonly models: SandboxModels;

  constructor(connection: Connection) {
    this.models = sandboxModels(connection);
  }

  async setRule(projectId: string, request: SandboxRuleRequest): Promise<SandboxRule & { external_user_id: string }> {
    const rule: SandboxRule = {
      card_issue: request.card_issue,
      topup_result: request.topup_result,
      ...(request.create_card_failure ? { create_card_failure: request.create_card_failure } : {}),
      ...(request.topup_failure ? { topup_failure: request.topup_failure } : {}),
    };
    const _id = ruleId(projectId, request.external_user_id);
    await this.models.rules.replaceOne(
      { _id },
      { _id, project_id: projectId, external_user_id: request.external_user_id, ...rule, updated_at: new Date() },
      { upsert: true },
    );
    return { external_user_id: request.external_user_id, ...rule };
  }

  async clearRule(projectId: string, externalUserId: string): Promise<SandboxRule & { external_user_id: string }> {
    await this.models.rules.deleteOne({ _id: ruleId(projectId, externalUserId) });
    return { external_user_id: externalUserId, ...DEFAULT_RULE };
  }

  /** Issues (or fails) the held card of an order: `issuing` -> `active` | `failed`. */
  async settleHeldCard(projectId: string, orderId: string, outcome: 'active' | 'failed'): Promise<{ order_id: string; provider_card_status: string }> {
    const card = await this.models.cards.findOne({ project_id: projectId, order_id: orderId }).lean();
    if (!card) throw new GatewayError('card_not_found', 'No sandbox card is held for this order yet.');
    if (card.status !== 'issuing' && card.status !== outcome) {
      throw new GatewayError('conflict', `The sandbox card is already ${card.status}.`);
    }
    await this.models.cards.updateOne({ _id: card._id, status: 'issuing' }, { $set: { status: outcome, updated_at: new Date() } });
    return { order_id: orderId, provider_card_status: outcome };
  }
}
