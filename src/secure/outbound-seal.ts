import { importPublicKey, isKeyManagementAlg, type EncryptionKey, type SigningKey } from '../jose/index.js';
import type { Project } from '../projects/project-model.js';
import { responseEncryptionKey } from '../projects/project-repository.js';
import { sealPayload } from './responder.js';

/**
 * What the gateway sends a partner on its own initiative, as opposed to answering it: the kinds
 * of message, each with its own members beside the seal's. A partner checks `kind` first, so a
 * message of one kind can never be taken for another, nor for an answer (which has none).
 */
export const OUTBOUND_KINDS = ['webhook_event'] as const;
export type OutboundKind = (typeof OUTBOUND_KINDS)[number];

/**
 * The members every outbound message carries inside its signature (contract section 2): who sent
 * it, to whom, when, and what it is. Without them a captured message could be replayed to the
 * partner long after, passed to another project that shares the gateway, or taken for another
 * kind. Documented for partners in docs/partner-api.md ("Opening an event").
 */
export interface OutboundSeal {
  /** The gateway: its GATEWAY_AUDIENCE, the `aud` partners sign for. */
  iss: string;
  /** The project the message is for. */
  aud: string;
  /** Seconds since the epoch when it was sealed: every delivery attempt is sealed anew. */
  iat: number;
  kind: OutboundKind;
}

/**
 * Seals outbound messages the way answers are sealed (a JWS by the gateway's signing key inside a
 * JWE to the project's newest active encryption key), with the OutboundSeal members signed in.
 */
export class OutboundSealer {
  constructor(
    private readonly signer: SigningKey,
    /** GATEWAY_AUDIENCE */
    private readonly gateway: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The sealed message for `project`, or undefined when the project has no encryption key the
   * gateway can use (nothing can be sent to it then).
   */
  async seal(project: Pick<Project, '_id' | 'encryption_keys'>, kind: OutboundKind, members: Record<string, unknown>): Promise<string | undefined> {
    const recipient = recipientOf(project);
    if (!recipient) return undefined;
    const seal: OutboundSeal = { iss: this.gateway, aud: project._id, iat: Math.floor(this.now() / 1000), kind };
    return sealPayload({ ...members, ...seal }, this.signer, recipient);
  }
}

function recipientOf(project: Pick<Project, 'encryption_keys'>): EncryptionKey | undefined {
  const registered = responseEncryptionKey(project);
  if (!registered || !isKeyManagementAlg(registered.alg)) return undefined;
  try {
    return { kid: registered.kid, alg: registered.alg, key: importPublicKey(registered.jwk, registered.alg) };
  } catch {
    return undefined;
  }
}
