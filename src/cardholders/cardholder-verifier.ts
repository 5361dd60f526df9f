import type { Connection, Model } from 'mongoose';
import type { Logger } from '../logging/logger.js';
import { cardholderModel, type Cardholder } from './cardholder-model.js';
import type { CardholderService } from './cardholder-service.js';
import type { QueuedVerification, VerificationQueue } from './verification-queue.js';

/** Entries looked at per pass; the rest wait for the next pass. */
const BATCH = 25;

/**
 * The sweeper: what makes a pending cardholder reach its verdict when the provider's webhook does
 * not arrive (the gateway was down when it was sent, or it was lost) and when the create request
 * died before or during its account call. Each pass takes the due entries of the verification
 * queue and, per cardholder, asks the provider for the account (none recorded yet) or for its
 * verification. Every step is idempotent (the account call by key and reference, the verdict
 * conditional on `pending`), so several gateway processes may sweep at once without a lease.
 */
export class CardholderVerifier {
  private readonly cardholders: Model<Cardholder>;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopping = false;
  private pass: Promise<void> | undefined;

  constructor(
    connection: Connection,
    private readonly service: CardholderService,
    private readonly queue: VerificationQueue,
    private readonly logger: Logger,
    private readonly pollMs: number,
  ) {
    this.cardholders = cardholderModel(connection);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass over the due entries (tests call it to sweep without the timer). */
  async sweep(): Promise<void> {
    for (const entry of await this.queue.due(BATCH)) {
      if (this.stopping) return;
      await this.check(entry);
    }
  }

  private async check(entry: QueuedVerification): Promise<void> {
    const holder = await this.cardholders.findById(entry._id).lean<Cardholder>();
    if (!holder) return this.queue.dropIfOrphan(entry);
    // Decided meanwhile, or a staff-made cardholder met by a duplicate partner create: nothing to ask.
    if (holder.verification_status !== 'pending' || holder.source !== 'partner') return this.queue.remove(entry._id);
    const accountId = holder.provider_account_id;
    if (accountId === undefined) return this.service.requestAccount(holder, entry.checks);
    return this.service.checkAccount({ ...holder, provider_account_id: accountId }, entry.checks);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.pass = this.sweep()
        .catch((err: unknown) => {
          this.logger.error('cardholder verification sweep failed', { error: err });
        })
        .finally(() => {
          this.pass = undefined;
          this.schedule(this.pollMs);
        });
    }, delayMs);
  }
}
