import type { Connection, Model } from 'mongoose';
import { projectModel, type Project, type ProjectKey, type ResponseEncryptionAlg, type SigningAlg } from './project-model.js';

/**
 * Reads projects and picks their keys. The secure channel looks a project up on every request, so
 * a disabled project or a retired key takes effect at once; imported keys are cached by the
 * caller under the project's `updated_at`.
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
export function responseEncryptionKey(project: Project): ProjectKey<ResponseEncryptionAlg> | undefined {
  let newest: ProjectKey<ResponseEncryptionAlg> | undefined;
  for (const key of project.encryption_keys) {
    if (key.status !== 'active') continue;
    if (!newest || key.created_at.getTime() > newest.created_at.getTime()) newest = key;
  }
  return newest;
}
