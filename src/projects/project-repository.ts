import type { Connection, Model } from 'mongoose';
import { projectModel, type Project, type ProjectKey, type ResponseEncryptionAlg, type SigningAlg } from './project-model.js';

/**
 * Reads projects and picks their keys. The secure channel reads through a ProjectCache: a disabled
 * project or a retired key takes effect at once when staff change it through this process, and
 * within CACHE_TTL_MS in every other process.
 */
export class ProjectRepository {
  private readonly model: Model<Project>;

  constructor(connection: Connection) {
    this.model = projectModel(connection);
  }

  async findById(id: string): Promise<Project | null> {
    return this.model.findById(id).lean<Project>().exec();
  }

  async insert(project: Omit<Project, 'created_at' | 'updated_at'>): Promise<Project> {
    const created = await this.model.create(project);
    return created.toObject<Project>();
  }
}

/** The active signing key a request names by `kid`; retired keys no longer verify. */
export function activeSigningKey(project: Project, kid: string): ProjectKey<SigningAlg> | undefined {
  return project.signing_keys.find((k) => k.kid === kid && k.status === 'active');
}

/** Responses are encrypted to the newest active encryption key. */
export function responseEncryptionKey(project: Pick<Project, 'encryption_keys'>): ProjectKey<ResponseEncryptionAlg> | undefined {
  let newest: ProjectKey<ResponseEncryptionAlg> | undefined;
  for (const key of project.encryption_keys) {
    if (key.status !== 'active') continue;
    // Dates as stored: a document written outside mongoose may hold strings.
    if (!newest || new Date(key.created_at).getTime() > new Date(newest.created_at).getTime()) newest = key;
  }
  return newest;
}
