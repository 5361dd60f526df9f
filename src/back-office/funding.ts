import { createHash, randomUUID } from 'node:crypto';
import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { orderIdFor } from '../ids/ids.js';
import { LedgerService } from '../ledger/ledger-service.js';
import { currencyExponent, MoneyFormatError, parseDecimal } from '../money/money.js';
import { orderModel, type Order } from '../orders/order-model.js';
import { toOrderView, type OrderView } from '../orders/order-view.js';
import { projectModel, type Project } from '../projects/project-model.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import type { Actor, AuditLog } from './audit-log.js';
import { notFound, parseInput } from './validate.js';

export const fundSchema = z
  .object({
    /** Decimal string in the project's currency, e.g. "1000.00". */
    amount: z.string(),
    reason: z.string().trim().min(1).max(500),
    idempotency_key: z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/, '8-128 letters, digits or . _ : -').optional(),
  })
  .strict();

export interface FundResult {
  order: OrderView;
  /** True when this idempotency key had already funded the project: nothing new was written. */
  replayed: boolean;
  /** The caller's key, or the one generated: repeating the request with it is safe. */
  idempotency_key: string;
}

/**
 * Funding a project's master balance. A deposit is an order (type balance_deposit) so that every
 * ledger entry belongs to an order, and the order's unique (project, idempotency_key) makes a
 * repeated request with the same key a replay, never a second deposit. The ledger entry is
 * appended after the order exists and is itself unique per (order, kind), so a request that
 * crashed in between is completed by repeating it with the same key; until then reconciliation
 * reports the deposit order without its entry.
 */
export class Funding {
  private readonly orders: Model<Order>;
  private readonly projects: Model<Project>;
  private readonly ledger: LedgerService;

  constructor(
    connection: Connection,
    private readonly audit: AuditLog,
  ) {
    this.orders = orderModel(connection);
    this.projects = projectModel(connection);
    this.ledger = new LedgerService(connection);
  }

  async fund(actor: Actor, projectId: string, input: unknown): Promise<FundResult> {
    const body = parseInput(fundSchema, input);
    const project = await this.projects.findById(projectId).lean<Project>();
    if (!project) throw notFound('Project');
    const exponent = currencyExponent(project.currency);
    let amount: number;
    try {
      amount = parseDecimal(body.amount, exponent);
    } catch (err) {
      if (!(err instanceof MoneyFormatError)) throw err;
      throw new GatewayError('validation_error', undefined, { issues: [{ path: 'amount', message: err.message }] });
    }
    if (amount <= 0) {
      throw new GatewayError('validation_error', undefined, { issues: [{ path: 'amount', message: 'must be greater than zero' }] });
    }
    const idempotencyKey = body.idempotency_key ?? `deposit-${randomUUID()}`;
    const requestHash = createHash('sha256')
      .update(JSON.stringify({ type: 'balance_deposit', amount, currency: project.currency, reason: body.reason }))
      .digest('hex');

    return this.audit.run(
      actor,
      {
        action: 'project.fund',
        target: `project:${projectId}`,
        summary: { amount: body.amount, currency: project.currency, reason: body.reason, idempotency_key: idempotencyKey },
      },
      async () => {
        const { order, replayed } = await this.depositOrder(project, idempotencyKey, requestHash, amount, body.reason);
        const { entry } = await this.ledger.append({
          project_id: projectId,
          order_id: order._id,
          kind: 'deposit',
          amount,
          currency: project.currency,
        });
        if (order.balance_after === undefined) {
          await this.orders.updateOne(
            { _id: order._id },
            { $set: { balance_before: entry.balance_before, balance_after: entry.balance_after, updated_at: new Date() } },
          );
        }
        const stored = await this.orders.findById(order._id).lean<Order>();
        return { order: toOrderView(stored!, exponent), replayed, idempotency_key: idempotencyKey };
      },
      (result) => ({ order_id: result.order.order_id, replayed: result.replayed, balance_after: result.order.balance_after }),
    );
  }

  private async depositOrder(
    project: Project,
    idempotencyKey: string,
    requestHash: string,
    amount: number,
    reason: string,
  ): Promise<{ order: Order; replayed: boolean }> {
    const now = new Date();
    const order: Order = {
      _id: orderIdFor(project._id, idempotencyKey),
      project_id: project._id,
      order_type: 'balance_deposit',
      idempotency_key: idempotencyKey,
      request_hash: requestHash,
      status: 'completed',
      is_issued: false,
      data: { amount, reason, currency: project.currency },
      rejected: false,
      attempts: 0,
      created_at: now,
      updated_at: now,
      completed_at: now,
    };
    try {
      await this.orders.collection.insertOne({ ...order } as never);
      return { order, replayed: false };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const existing =
      (await this.orders.findOne({ _id: order._id, project_id: project._id, idempotency_key: idempotencyKey }).lean<Order>()) ??
      (await this.orders.findOne({ project_id: project._id, idempotency_key: idempotencyKey }).lean<Order>());
    if (!existing) throw new GatewayError('conflict');
    if (existing.order_type !== 'balance_deposit' || existing.request_hash !== requestHash) {
      throw new GatewayError('idempotency_key_reused');
    }
    return { order: existing, replayed: true };
  }
}
