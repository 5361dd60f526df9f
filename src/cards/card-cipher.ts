import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptedCardSecrets } from './card-model.js';
import type { CardDataKeyRing } from './card-data-keys.js';

/** What is sealed: the card's sensitive data, never stored or logged in the clear. */
export interface CardSecretData {
  pan: string;
  cvv: string;
  expiry_month: number;
  expiry_year: number;
}

export class CardDataDecryptError extends Error {
  override name = 'CardDataDecryptError';
}

/**
 * AES-256-GCM over the card secrets. The additional data binds a ciphertext to the record it
 * belongs to (`subject`, e.g. the card id), so a ciphertext copied onto another card fails to open.
 */
export class CardCipher {
  constructor(private readonly ring: CardDataKeyRing) {}

  seal(subject: string, secrets: CardSecretData): EncryptedCardSecrets {
    const keyId = this.ring.activeKeyId;
    const key = this.ring.keys.get(keyId)!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(keyId, subject));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
    return {
      key_id: keyId,
      iv: iv.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
  }

  open(subject: string, sealed: EncryptedCardSecrets): CardSecretData {
    const key = this.ring.keys.get(sealed.key_id);
    if (!key) throw new CardDataDecryptError(`card data key "${sealed.key_id}" is not configured`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(aad(sealed.key_id, subject));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as CardSecretData;
    } catch {
      // No detail: the reason could only help someone tampering with the store.
      throw new CardDataDecryptError('card data could not be decrypted');
    }
  }
}

function aad(keyId: string, subject: string): Buffer {
  return Buffer.from(`card-data:v1:${keyId}:${subject}`, 'utf8');
}
