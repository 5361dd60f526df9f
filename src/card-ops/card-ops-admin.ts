import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import type { Actor, AuditLog } from '../back-office/audit-log.js';
import { toStaffOrderView, type StaffOrderView } from '../back-office/order-lookup.js';
import { notFound, parseInput } from '../back-office/validate.js';
import { cardModel, type Card } from '../cards/card-model.js';
import { GatewayError } from '../errors/gateway-error.js';
import { currencyExponent } from '../money/money.js';
import { projectModel, type Project } from '../projects/project-model.js';
import type { ChangeOpType } from './card-op-requests.js';
import type { CardOperations } from './card-operations.js';

/** What staff may do to a card, by the word the admin API and the CLI use. */
export const STAFF_CARD_ACTIONS = { freeze: 'card_freeze', unfreeze: 'card_unfreeze', terminate: 'card_terminate' } as const satisfies Record<string, ChangeOpType>;
export type StaffCardAction = keyof typeof STAFF_CARD_ACTIONS;

export const staffCardChangeSchema = z.strictObject({
  reason: z.string().trim().min(1).max(500),
  /** Instead of the Idempotency-Key header. */
  idempotency_key: z.string().optional(),
});

export interface StaffCardChange {
  order: StaffOrderView;
  /** True when this key had already made the order: nothing new was asked of the provider. */
  replayed: boolean;
}

/**
 * Staff freezing, unfreezing or terminating a card (a lost or stolen card, fraud). Each is the
 * very order a partner's cards/freeze (…) makes, through the same CardOperations and workflow, so
 * the provider is called, the caller's Idempotency-Key makes it exactly once, order lookup shows
 * it and events follow; the order says `created_by: staff:<name>`. The audit entry, written
 * before the order, holds the reason.
 */
export class StaffCardOps {
  private readonly cards: Model<Card>;
  private readonly projects: Model<Project>;

  constructor(
    connection: Connection,
    private readonly audit: AuditLog,
    private readonly operations: CardOperations,
  ) {
    this.cards = cardModel(connection);
    this.projects = projectModel(connection);
  }

  async change(actor: Actor, action: StaffCardAction, cardId: string, input: unknown, headerKey: string | undefined): Promise<StaffCardChange> {
    const body = parseInput(staffCardChangeSchema, input);
    const idempotencyKey = headerKey ?? body.idempotency_key;
    if (!idempotencyKey) throw new GatewayError('idempotency_key_required', 'An Idempotency-Key (header, or idempotency_key) is required.');
    const card = await this.cards.findById(cardId).lean<Card>();
    const project = card ? await this.projects.findById(card.project_id).lean<Project>() : null;
    if (!card || !project) throw notFound('Card');
    const type = STAFF_CARD_ACTIONS[action];
    return this.audit.run(
      actor,
      { action: `card.${action}`, target: `card:${card._id}`, summary: { project_id: project._id, reason: body.reason, idempotency_key: idempotencyKey } },
      async () => {
        const { order, replayed } = await this.operations.create(project, type, { card_id: card._id }, idempotencyKey, { createdBy: `staff:${actor.staff}` });
        // Refused by a rule (the card is terminated, frozen already…): the partner API's answer, with the stored order's id.
        if (order.rejected) throw new GatewayError(order.last_error_slug!, order.last_error, { order_id: order._id }, replayed ? { 'Idempotent-Replayed': 'true' } : {});
        return { order: toStaffOrderView(order, currencyExponent(project.currency)), replayed };
      },
      (result) => ({ order_id: result.order.order_id, replayed: result.replayed }),
    );
  }
}
