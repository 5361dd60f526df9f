import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';

/**
 * Console sessions, stored server-side. The browser holds only a random id (in an HttpOnly,
 * SameSite=Strict cookie); the store holds its SHA-256, so a copy of the collection signs nobody
 * in. A session ends after `idleMs` without a request, and after `maxMs` whatever happens.
 */
export interface ConsoleSession {
  /** sha256(session id), hex. */
  _id: string;
  staff: string;
  /** The CSRF token every change must carry: not a credential by itself (it needs the cookie). */
  csrf: string;
  created_at: Date;
  last_seen_at: Date;
  /** Sliding: last_seen_at + idle, capped by created_at + max. */
  expires_at: Date;
}

const sessionSchema = new Schema<ConsoleSession>(
  {
    _id: { type: String },
    staff: { type: String, required: true },
    csrf: { type: String, required: true },
    created_at: { type: Date, required: true },
    last_seen_at: { type: Date, required: true },
    expires_at: { type: Date, required: true },
  },
  { versionKey: false },
);
sessionSchema.index({ expires_at: 1 });

export function consoleSessionModel(connection: Connection): Model<ConsoleSession> {
  return (
    (connection.models.ConsoleSession as Model<ConsoleSession> | undefined) ??
    connection.model<ConsoleSession>('ConsoleSession', sessionSchema, 'console_sessions')
  );
}

const hash = (id: string) => createHash('sha256').update(id, 'utf8').digest('hex');
/** A session id as the cookie carries it: 32 random bytes, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** Touching on every request would be a write per page; a minute's slack (at most half the idle time) is enough. */
const TOUCH_EVERY_MS = 60_000;

export class ConsoleSessions {
  private readonly sessions: Model<ConsoleSession>;

  constructor(
    connection: Connection,
    private readonly idleMs: number,
    private readonly maxMs: number,
  ) {
    this.sessions = consoleSessionModel(connection);
  }

  async create(staff: string): Promise<{ id: string; session: ConsoleSession }> {
    const id = randomBytes(32).toString('base64url');
    const now = new Date();
    const session: ConsoleSession = {
      _id: hash(id),
      staff,
      csrf: randomBytes(32).toString('base64url'),
      created_at: now,
      last_seen_at: now,
      expires_at: new Date(now.getTime() + Math.min(this.idleMs, this.maxMs)),
    };
    await this.sessions.collection.insertOne(session as never);
    // Expired sessions of anyone are swept on sign-in: the collection stays small without a TTL index.
    await this.sessions.deleteMany({ expires_at: { $lte: now } });
    return { id, session };
  }

  /** The live session of a cookie value, touched; undefined when unknown or expired. */
  async find(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (!id || !SESSION_ID.test(id)) return undefined;
    const session = await this.sessions.findById(hash(id)).lean<ConsoleSession>();
    const now = Date.now();
    if (!session) return undefined;
    if (session.expires_at.getTime() <= now) {
      await this.sessions.deleteOne({ _id: session._id });
      return undefined;
    }
    // At most half the idle time between touches, so a session in use never lapses between two.
    if (now - session.last_seen_at.getTime() >= Math.min(TOUCH_EVERY_MS, this.idleMs / 2)) {
      const expires = Math.min(now + this.idleMs, session.created_at.getTime() + this.maxMs);
      await this.sessions.updateOne({ _id: session._id }, { $set: { last_seen_at: new Date(now), expires_at: new Date(expires) } });
    }
    return session;
  }

  async end(id: string | undefined): Promise<void> {
    if (id && SESSION_ID.test(id)) await this.sessions.deleteOne({ _id: hash(id) });
  }
}

/** Constant-time comparison of two tokens (CSRF). */
export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}
