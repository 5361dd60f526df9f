import type { Connection, Model } from 'mongoose';
import { GatewayError } from '../errors/gateway-error.js';
import { cardholderIdFor } from '../ids/ids.js';
import type { Logger } from '../logging/logger.js';
import { validationError } from '../orders/create-card-request.js';
import type { Project } from '../projects/project-model.js';
import { ProviderError, type CardProvider } from '../provider/card-provider.js';
import { announceStaffChange } from '../store/change-notices.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';
import { cardholderModel, findCardholder, type Cardholder } from './cardholder-model.js';
import { createCardholderBody, getCardholderBody, partnerCardholderView, type PartnerCardholderView } from './cardholder-request.js';
import { applyAccountVerdict } from './cardholder-verdicts.js';
import type { VerificationQueue } from './verification-queue.js';

export interface CreateCardholderOutcome {
  /** 201: stored by this request; 200: the project already had this external_user_id. */
  status: 200 | 201;
  cardholder: PartnerCardholderView;
}

/**
 * Partner-created cardholders (docs/orders.md, "Cardholders"): stored `pending`, then the provider
 * is asked for the customer account and its verdict makes them `verified` or `rejected`. One
 * cardholder per (project, external_user_id), whatever the race: it is stored under an id derived
 * from the pair, so the insert's unique _id decides and the losers answer the winner.
 */
export class CardholderService {
  private readonly cardholders: Model<Cardholder>;

  constructor(
    private readonly connection: Connection,
    private readonly provider: CardProvider,
    private readonly queue: VerificationQueue,
    private readonly logger: Logger,
    /** How long after its create the sweeper first looks at a cardholder (the request asks the provider itself). */
    private readonly firstCheckMs: number,
  ) {
    this.cardholders = cardholderModel(connection);
  }

  async create(project: Project, body: unknown): Promise<CreateCardholderOutcome> {
    const parsed = createCardholderBody.safeParse(body);
    if (!parsed.success) throw validationError(parsed.error);
    const externalUserId = parsed.data.external_user_id?.trim();
    if (!externalUserId) throw new GatewayError('external_user_id_required');
    const { name, billing_address: address, contact } = parsed.data;

    const id = cardholderIdFor(project._id, externalUserId);
    const now = new Date();
    const holder: Cardholder = {
      _id: id,
      project_id: project._id,
      external_user_id: externalUserId,
      verification_status: 'pending',
      first_name: name.first,
      last_name: name.last,
      source: 'partner',
      billing_address: {
        line1: address.line1,
        ...(address.line2 !== undefined && { line2: address.line2 }),
        city: address.city,
        postal_code: address.postal_code,
        country: address.country,
        ...(address.state !== undefined && { state: address.state }),
      },
      email: contact.email,
      ...(contact.phone !== undefined && { phone: contact.phone }),
      created_at: now,
      updated_at: now,
    };
    // The sweeper's entry goes first: a pending cardholder is never stored without one.
    await this.queue.add(id, new Date(now.getTime() + this.firstCheckMs));
    try {
      await this.cardholders.collection.insertOne(holder as never);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const existing = await findCardholder(this.cardholders, project._id, externalUserId);
      if (!existing) throw err;
      // The first create's details stand; this request's are not applied.
      return { status: 200, cardholder: partnerCardholderView(existing) };
    }
    this.logger.info('cardholder created', { cardholder_id: id, project_id: project._id });
    await this.requestAccount(holder, 0);
    return { status: 201, cardholder: partnerCardholderView((await this.cardholders.findById(id).lean<Cardholder>()) ?? holder) };
  }

  async get(project: Project, body: unknown): Promise<PartnerCardholderView> {
    const parsed = getCardholderBody.safeParse(body ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const externalUserId = parsed.data.external_user_id?.trim();
    if (!externalUserId) throw new GatewayError('external_user_id_required');
    // Looked up within the caller's project only: another project's cardholder is not found.
    const holder = await findCardholder(this.cardholders, project._id, externalUserId);
    if (!holder) throw new GatewayError('cardholder_not_found');
    return partnerCardholderView(holder);
  }

  /**
   * Asks the provider for the cardholder's customer account. The key and the body derive from the
   * stored cardholder alone, so a repeat (the sweeper after a crash or an outage) is the same call
   * and the provider keeps one account. A refusal is the provider's verdict; an outage leaves the
   * cardholder pending for the sweeper's next check.
   */
  async requestAccount(holder: Cardholder, checks: number): Promise<void> {
    try {
      const account = await this.provider.createAccount({
        idempotencyKey: `cardholder:${holder._id}:account`,
        reference: holder._id,
        name: `${holder.first_name ?? ''} ${holder.last_name ?? ''}`.trim(),
        ...(holder.billing_address && {
          billingAddress: {
            line1: holder.billing_address.line1,
            ...(holder.billing_address.line2 !== undefined && { line2: holder.billing_address.line2 }),
            city: holder.billing_address.city,
            postalCode: holder.billing_address.postal_code,
            country: holder.billing_address.country,
            ...(holder.billing_address.state !== undefined && { state: holder.billing_address.state }),
          },
        }),
        ...(holder.email !== undefined && { email: holder.email }),
        ...(holder.phone !== undefined && { phone: holder.phone }),
      });
      await this.cardholders.updateOne({ _id: holder._id, provider_account_id: { $exists: false } }, { $set: { provider_account_id: account.accountId } });
      if (account.verification !== 'pending') {
        await applyAccountVerdict(this.connection, { reference: holder._id, accountId: account.accountId, verification: account.verification });
      } else {
        await this.queue.later({ _id: holder._id, checks });
      }
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      if (!err.transient) {
        this.logger.warn('cardholder refused by the provider', { cardholder_id: holder._id, status: err.status });
        await this.reject(holder);
        return;
      }
      this.logger.warn('cardholder account request failed; will retry', { cardholder_id: holder._id, failure: err.failure });
      await this.queue.later({ _id: holder._id, checks });
    }
  }

  /** Asks the provider where the verification of an account it made stands. */
  async checkAccount(holder: Cardholder & { provider_account_id: string }, checks: number): Promise<void> {
    try {
      const account = await this.provider.getAccount(holder.provider_account_id);
      if (account.verification !== 'pending') {
        await applyAccountVerdict(this.connection, { reference: holder._id, accountId: account.accountId, verification: account.verification });
        return;
      }
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      this.logger.warn('cardholder verification check failed; will retry', { cardholder_id: holder._id, failure: err.failure });
    }
    await this.queue.later({ _id: holder._id, checks });
  }

  /** The provider refused to open the account at all: as final as a rejected verification. */
  private async reject(holder: Cardholder): Promise<void> {
    const now = new Date();
    const { modifiedCount } = await this.cardholders.updateOne(
      { _id: holder._id, verification_status: 'pending' },
      { $set: { verification_status: 'rejected', rejected_at: now, updated_at: now } },
    );
    if (modifiedCount === 0) return;
    announceStaffChange(this.connection, 'cardholder', holder._id);
    await this.queue.remove(holder._id);
  }
}
