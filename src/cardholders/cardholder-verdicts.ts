import type { Connection } from 'mongoose';
import type { AccountVerification } from '../provider/card-provider.js';
import { announceStaffChange } from '../store/change-notices.js';
import { cardholderModel } from './cardholder-model.js';
import { queuedVerificationModel } from './verification-queue.js';

export interface AccountVerdict {
  /** The provider account's reference: the cardholder's id. */
  reference: string;
  accountId: string;
  verification: Exclude<AccountVerification, 'pending'>;
}

/**
 * Records the provider's verdict on a partner-created cardholder, from whichever source hears it
 * first (the provider's webhook, the create request, the sweeper). Only a pending cardholder
 * changes, and only for the account it was (or is about to be) given, so a repeated, late or
 * foreign verdict is a no-op and the first verdict stands. Returns whether it changed anything.
 */
export async function applyAccountVerdict(connection: Connection, verdict: AccountVerdict): Promise<boolean> {
  const now = new Date();
  const { modifiedCount } = await cardholderModel(connection).updateOne(
    {
      _id: verdict.reference,
      source: 'partner',
      verification_status: 'pending',
      $or: [{ provider_account_id: { $exists: false } }, { provider_account_id: verdict.accountId }],
    },
    {
      $set: {
        verification_status: verdict.verification,
        provider_account_id: verdict.accountId,
        [verdict.verification === 'verified' ? 'verified_at' : 'rejected_at']: now,
        updated_at: now,
      },
    },
  );
  if (modifiedCount === 0) return false;
  // cards/create reads cardholders through a cache: this process drops its copies at once.
  announceStaffChange(connection, 'cardholder', verdict.reference);
  await queuedVerificationModel(connection).deleteOne({ _id: verdict.reference });
  return true;
}
