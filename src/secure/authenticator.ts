import type { Config } from '../config/config.js';
import { GatewayError } from '../errors/gateway-error.js';
import {
  JoseFailure,
  KeyCache,
  inspectJwe,
  importPublicKey,
  isKeyManagementAlg,
  isSignatureAlg,
  openNested,
  type EncryptionKey,
  type OpenedToken,
  type VerificationKey,
} from '../jose/index.js';
import type { Project, ProjectKey } from '../projects/project-model.js';
import { activeSigningKey, responseEncryptionKey, type ProjectRepository } from '../projects/project-repository.js';
import type { GatewayKeys } from './gateway-keys.js';
import type { ReplayCache } from './replay-cache.js';

/**
 * The checks of contract section 2, free of HTTP: open the envelope, find and check the project,
 * then check the claims against what the request was actually made for. Failures are
 * GatewayErrors with the contract's slugs; `detail` (fixed strings, never input) goes to the log.
 */
export class AuthenticationError extends GatewayError {
  constructor(
    slug: ConstructorParameters<typeof GatewayError>[0],
    readonly detail: string,
    message?: string,
  ) {
    super(slug, message);
  }
}

/** The result of the first stage: who sent it, established by a verified signature. */
export interface Identified {
  project: Project;
  claims: Record<string, unknown>;
  /** The project's key responses are encrypted to. */
  recipient: EncryptionKey;
}

/** What the request was made for, as the gateway saw it. */
export interface RequestBinding {
  method: string;
  /** The route's canonical path (not the raw URL: routing is case- and slash-tolerant). */
  path: string;
  idempotencyKey: string | undefined;
}

export interface CheckedClaims {
  body: unknown;
  idempotencyKey: string | undefined;
}

const MAX_ID_CHARS = 256;
// Idempotency keys are stored and compared verbatim: printable ASCII only, bounded.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function joseToGatewayError(err: JoseFailure): AuthenticationError {
  // invalid_key only arises from registered project keys: for the caller it is a failed signature.
  const slug = err.reason === 'invalid_key' ? 'invalid_signature' : err.reason;
  return new AuthenticationError(slug, err.detail);
}

export class Authenticator {
  // Imported project keys, keyed by the registered key itself (alg and JWK as stored): however the
  // document is edited, a changed key is a new cache entry. Status (active/retired) and project
  // status come from the project document (`projects`: a ProjectCache, bounded staleness), never
  // from this cache.
  private readonly projectKeys = new KeyCache<VerificationKey | EncryptionKey>();

  constructor(
    private readonly config: Config,
    private readonly keys: GatewayKeys,
    private readonly projects: Pick<ProjectRepository, 'findById'>,
    private readonly replayCache: ReplayCache,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stage 0, no cryptography: the JWE's shape, header allow-lists and `kid`. Run before a request
   * waits for a decryption slot, so junk that fails here costs almost nothing and takes no slot.
   */
  precheck(token: string): void {
    try {
      const { header } = inspectJwe(token);
      if (!this.keys.decryptionKeys.has(header.kid)) throw new JoseFailure('unknown_key_id', 'no gateway key with this kid');
    } catch (err) {
      if (err instanceof JoseFailure) throw joseToGatewayError(err);
      throw err;
    }
  }

  /** Stage 1: decrypt, verify the signature against the named project's key, admit the project. */
  async identify(token: string): Promise<Identified> {
    let project: Project | undefined;
    let opened: OpenedToken;
    try {
      opened = await openNested(
        token,
        (kid) => this.keys.decryptionKeys.get(kid),
        async (header, unverified) => {
          const iss = unverified.iss;
          if (typeof iss !== 'string' || iss.length === 0 || iss.length > MAX_ID_CHARS) {
            throw new AuthenticationError('unknown_project', 'iss missing or malformed');
          }
          const found = await this.projects.findById(iss);
          if (!found) throw new AuthenticationError('unknown_project', 'no project with this iss');
          project = found;
          return this.verificationKey(found, header.kid);
        },
      );
    } catch (err) {
      if (err instanceof JoseFailure) throw joseToGatewayError(err);
      throw err;
    }
    // The signature is good: from here the sender is known to hold the project's key.
    if (!project) throw new AuthenticationError('unknown_project', 'project not resolved');
    if (project.status !== 'active') throw new AuthenticationError('project_disabled', 'project is disabled');
    const recipient = this.encryptionKey(project);
    return { project, claims: opened.claims, recipient };
  }

  /** Stage 2: the claims bind the token to this gateway, this moment, this endpoint and this key. */
  async checkClaims(identified: Identified, binding: RequestBinding): Promise<CheckedClaims> {
    const { claims, project } = identified;

    const aud = claims.aud;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(this.config.GATEWAY_AUDIENCE)) throw new AuthenticationError('request_binding_mismatch', 'aud');

    const iat = claims.iat;
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new AuthenticationError('request_expired', 'iat missing or not a number');
    if (Math.abs(this.now() / 1000 - iat) > this.config.REQUEST_MAX_AGE_S) throw new AuthenticationError('request_expired', 'iat outside window');

    if (claims.htm !== binding.method) throw new AuthenticationError('request_binding_mismatch', 'htm');
    if (!htuMatches(claims.htu, binding.path, this.config.PUBLIC_BASE_URL)) throw new AuthenticationError('request_binding_mismatch', 'htu');

    const idk = claims.idk;
    if (idk !== undefined || binding.idempotencyKey !== undefined) {
      if (typeof idk !== 'string' || idk !== binding.idempotencyKey) throw new AuthenticationError('request_binding_mismatch', 'idk');
      if (!IDEMPOTENCY_KEY.test(idk)) {
        throw new GatewayError('validation_error', undefined, {
          issues: [{ path: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' }],
        });
      }
    }

    const jti = claims.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_ID_CHARS) throw new AuthenticationError('request_binding_mismatch', 'jti');
    // Last, and the only write: a request refused for any other reason leaves nothing behind.
    if (!(await this.replayCache.remember(project._id, jti, iat))) throw new AuthenticationError('replay_detected', 'jti seen before');

    return { body: claims.body, idempotencyKey: binding.idempotencyKey };
  }

  private verificationKey(project: Project, kid: string): VerificationKey {
    const registered = activeSigningKey(project, kid);
    if (!registered || !isSignatureAlg(registered.alg)) throw new AuthenticationError('invalid_signature', 'no active signing key with this kid');
    return this.projectKeys.getOrCreate(cacheKeyOf(registered), () => ({
      kid,
      alg: registered.alg,
      key: importPublicKey(registered.jwk, registered.alg),
    })) as VerificationKey;
  }

  private encryptionKey(project: Project): EncryptionKey {
    const registered = responseEncryptionKey(project);
    const unusable = () =>
      new AuthenticationError('project_disabled', 'no usable response encryption key', 'The project has no usable response encryption key.');
    if (!registered || !isKeyManagementAlg(registered.alg)) throw unusable();
    try {
      return this.projectKeys.getOrCreate(cacheKeyOf(registered), () => ({
        kid: registered.kid,
        alg: registered.alg,
        key: importPublicKey(registered.jwk, registered.alg),
      })) as EncryptionKey;
    } catch {
      throw unusable();
    }
  }
}

function cacheKeyOf(key: ProjectKey<string>): string {
  return `${key.kid}|${key.alg}|${JSON.stringify(key.jwk)}`;
}

/**
 * `htu` names the endpoint: its path, or (RFC 9449 style) the whole URL the partner called, which
 * must be the configured PUBLIC_BASE_URL followed by that path: same scheme, host, port and path.
 * Without PUBLIC_BASE_URL the gateway does not know its public URL, so absolute `htu` is refused.
 */
function htuMatches(htu: unknown, path: string, publicBaseUrl: string | undefined): boolean {
  if (typeof htu !== 'string' || htu.length > 2048) return false;
  if (htu === path) return true;
  if (!publicBaseUrl || !/^https?:\/\//i.test(htu)) return false;
  try {
    const url = new URL(htu);
    const base = new URL(publicBaseUrl);
    const expectedPath = `${base.pathname.replace(/\/+$/, '')}${path}`;
    return url.origin === base.origin && url.pathname === expectedPath && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}
