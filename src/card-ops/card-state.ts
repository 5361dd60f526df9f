import { Schema, type Connection, type Model } from 'mongoose';
import { cardModel, type Card, type CardStatus } from '../cards/card-model.js';
import { KeyedMutex } from '../ledger/keyed-mutex.js';
import type { ProviderCardStatus } from '../provider/card-provider.js';
import { isDuplicateKeyError } from '../store/duplicate-key.js';

/**
 * A card's termination, recorded once by an insert (unique _id = card id). On FerretDB 1.x a
 * filtered update is a read then a write, so "set frozen unless terminated" can land after
 * "set terminated"; the record is what makes terminated final whatever the order of the writes.
 */
export interface CardTermination {
  _id: string;
  order_id?: string;
  created_at: Date;
}

const terminationSchema = new Schema<CardTermination>(
  { _id: { type: String }, order_id: { type: String }, created_at: { type: Date, required: true } },
  { versionKey: false },
);

export function cardTerminationModel(connection: Connection): Model<CardTermination> {
  return (
    (connection.models.CardTermination as Model<CardTermination> | undefined) ??
    connection.model<CardTermination>('CardTermination', terminationSchema, 'card_terminations')
  );
}

/** The gateway's card status for the provider's (`inactive` is frozen); undefined: not a card state. */
export function gatewayStatus(status: ProviderCardStatus): CardStatus | undefined {
  switch (status) {
    case 'active':
      return 'active';
    case 'inactive':
      return 'frozen';
    case 'terminated':
      return 'terminated';
    default:
      return undefined;
  }
}

/**
 * Writes a card's status and balance as the provider last answered them. Writers of one card take
 * turns in this process (a later provider answer is written later); across processes the
 * termination record keeps a terminated card terminated: a status other than terminated is written
 * and then checked against the record, and the terminating writer records before it writes.
 */
export class CardState {
  private readonly cards: Model<Card>;
  private readonly terminations: Model<CardTermination>;
  private readonly turns = new KeyedMutex();

  constructor(connection: Connection) {
    this.cards = cardModel(connection);
    this.terminations = cardTerminationModel(connection);
  }

  /** Runs `task` in the card's turn: reading the provider and writing its answer stay in order. */
  inTurn<T>(cardId: string, task: () => Promise<T>): Promise<T> {
    return this.turns.run(cardId, task);
  }

  async isTerminated(cardId: string): Promise<boolean> {
    return (await this.terminations.exists({ _id: cardId })) !== null;
  }

  /** Call inside inTurn. Returns the status the card now has. */
  async setStatus(cardId: string, status: CardStatus, orderId?: string): Promise<CardStatus> {
    if (status === 'terminated') {
      await this.recordTermination(cardId, orderId);
    } else if (await this.isTerminated(cardId)) {
      status = 'terminated';
    }
    await this.cards.updateOne({ _id: cardId }, { $set: { status } });
    if (status !== 'terminated' && (await this.isTerminated(cardId))) {
      // Terminated while we wrote: the terminating writer may have written before us.
      await this.cards.updateOne({ _id: cardId }, { $set: { status: 'terminated' } });
      return 'terminated';
    }
    return status;
  }

  /** Call inside inTurn: the provider's balance, read after the change it reflects. */
  async setBalance(cardId: string, balance: number): Promise<void> {
    await this.cards.updateOne({ _id: cardId }, { $set: { balance } });
  }

  /** Before a terminated status is written; also by the provider's webhooks (src/provider/webhooks/). */
  async recordTermination(cardId: string, orderId?: string): Promise<void> {
    try {
      await this.terminations.collection.insertOne({ _id: cardId, ...(orderId && { order_id: orderId }), created_at: new Date() } as never);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
}
