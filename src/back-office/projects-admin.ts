import type { Connection, Model } from 'mongoose';
import { z } from 'zod';
import { GatewayError } from '../errors/gateway-error.js';
import { newId } from '../ids/ids.js';
import { KeyedMutex } from '../ledger/keyed-mutex.js';
import { LedgerService } from '../ledger/ledger-service.js';
import { currencyExponent, formatMinor, SUPPORTED_CURRENCIES } from '../money/money.js';
import { projectModel, type Project, type ProjectKey, type ProjectStatus } from '../projects/project-model.js';
import { announceStaffChange } from '../store/change-notices.js';
import type { Actor, AuditLog } from './audit-log.js';
import { checkPublicKey, thumbprint, type KeyUse } from './key-rules.js';
import { notFound, parseInput } from './validate.js';

export interface KeyView {
  kid: string;
  alg: string;
  status: 'active' | 'retired';
  thumbprint: string;
  created_at: string;
  retired_at: string | null;
}

export interface ProjectView {
  project_id: string;
  name: string;
  status: ProjectStatus;
  currency: string;
  /** Master balance, decimal string. */
  balance: string;
  signing_keys: KeyView[];
  encryption_keys: KeyView[];
  created_at: string;
  updated_at: string;
}

export const createSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    currency: z.enum(SUPPORTED_CURRENCIES as [string, ...string[]]).default('USD'),
    /** Optional fixed id (the demo bootstrap uses one); otherwise generated. */
    project_id: z.string().regex(/^prj_[A-Za-z0-9_-]{3,60}$/, 'must look like prj_…').optional(),
  })
  .strict();

export const addKeySchema = z
  .object({
    alg: z.string(),
    jwk: z.record(z.string(), z.unknown()),
    kid: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits and . _ : - only').optional(),
  })
  .strict();

/**
 * Projects as staff manage them: create, disable and re-enable, register and retire keys.
 * Every change goes through the audit log.
 *
 * FerretDB has no atomic read-modify-write, so key lists are changed under a per-project queue in
 * this process, written whole, and read back to check the change stuck. Two staff members
 * changing one project's keys from two processes in the same instant is the one race left.
 */
export class ProjectsAdmin {
  private readonly projects: Model<Project>;
  private readonly ledger: LedgerService;
  private readonly queue = new KeyedMutex();

  constructor(
    private readonly connection: Connection,
    private readonly audit: AuditLog,
  ) {
    this.projects = projectModel(connection);
    this.ledger = new LedgerService(connection);
  }

  async list(): Promise<ProjectView[]> {
    const projects = await this.projects.find().sort({ created_at: 1, _id: 1 }).lean<Project[]>();
    return Promise.all(projects.map((p) => this.view(p)));
  }

  async get(projectId: string): Promise<ProjectView> {
    return this.view(await this.load(projectId));
  }

  async load(projectId: string): Promise<Project> {
    const project = await this.projects.findById(projectId).lean<Project>();
    if (!project) throw notFound('Project');
    return project;
  }

  async create(actor: Actor, input: unknown): Promise<ProjectView> {
    const body = parseInput(createSchema, input);
    const id = body.project_id ?? newId('prj');
    return this.audit.run(
      actor,
      { action: 'project.create', target: `project:${id}`, summary: { name: body.name, currency: body.currency } },
      async () => {
        const now = new Date();
        try {
          await this.projects.collection.insertOne({
            _id: id,
            name: body.name,
            status: 'active',
            currency: body.currency,
            signing_keys: [],
            encryption_keys: [],
            created_at: now,
            updated_at: now,
          } satisfies Project as never);
        } catch (err) {
          if ((err as { code?: number }).code === 11000) throw new GatewayError('conflict', 'A project with this id exists.');
          throw err;
        }
        return this.get(id);
      },
      (view) => ({ project_id: view.project_id }),
    );
  }

  async setStatus(actor: Actor, projectId: string, status: ProjectStatus): Promise<ProjectView> {
    const before = await this.load(projectId);
    return this.audit.run(
      actor,
      { action: status === 'disabled' ? 'project.disable' : 'project.enable', target: `project:${projectId}`, summary: { from: before.status, to: status } },
      async () => {
        await this.projects.updateOne({ _id: projectId }, { $set: { status, updated_at: new Date() } });
        announceStaffChange(this.connection, 'project', projectId);
        return this.get(projectId);
      },
    );
  }

  async addKey(actor: Actor, projectId: string, use: KeyUse, input: unknown): Promise<KeyView> {
    const body = parseInput(addKeySchema, input);
    const checked = checkPublicKey(use, body.alg, body.jwk);
    const kid = body.kid ?? checked.thumbprint;
    const field = use === 'signing' ? 'signing_keys' : 'encryption_keys';
    return this.queue.run(projectId, async () => {
      const project = await this.load(projectId);
      if ([...project.signing_keys, ...project.encryption_keys].some((k) => k.kid === kid)) {
        throw new GatewayError('conflict', 'The project already has a key with this kid.');
      }
      return this.audit.run(
        actor,
        { action: `project.${use}_key.add`, target: `project:${projectId}`, summary: { kid, alg: checked.alg, thumbprint: checked.thumbprint } },
        async () => {
          const key: ProjectKey<string> = { kid, alg: checked.alg, jwk: { ...checked.jwk, kid }, status: 'active', created_at: new Date() };
          await this.writeKeys(projectId, field, (keys) => [...keys, key], (keys) => keys.some((k) => k.kid === kid));
          return keyView(key);
        },
      );
    });
  }

  /** Refuses to retire the last active key of its kind unless `force`: that would lock the project out. */
  async retireKey(actor: Actor, projectId: string, use: KeyUse, kid: string, force = false): Promise<KeyView> {
    const field = use === 'signing' ? 'signing_keys' : 'encryption_keys';
    return this.queue.run(projectId, async () => {
      const project = await this.load(projectId);
      const keys = project[field] as ProjectKey<string>[];
      const key = keys.find((k) => k.kid === kid);
      if (!key) throw notFound('Key');
      if (key.status === 'retired') return keyView(key);
      if (!force && keys.filter((k) => k.status === 'active').length === 1) {
        throw new GatewayError('conflict', `This is the project's last active ${use} key; add its successor first, or pass force.`);
      }
      return this.audit.run(actor, { action: `project.${use}_key.retire`, target: `project:${projectId}`, summary: { kid, force } }, async () => {
        const retiredAt = new Date();
        await this.writeKeys(
          projectId,
          field,
          (current) => current.map((k) => (k.kid === kid ? { ...k, status: 'retired' as const, retired_at: retiredAt } : k)),
          (current) => current.some((k) => k.kid === kid && k.status === 'retired'),
        );
        return keyView({ ...key, status: 'retired', retired_at: retiredAt });
      });
    });
  }

  private async writeKeys(
    projectId: string,
    field: 'signing_keys' | 'encryption_keys',
    change: (keys: ProjectKey<string>[]) => ProjectKey<string>[],
    applied: (keys: ProjectKey<string>[]) => boolean,
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const project = await this.load(projectId);
      const current = project[field] as ProjectKey<string>[];
      if (applied(current)) return;
      await this.projects.updateOne({ _id: projectId }, { $set: { [field]: change(current), updated_at: new Date() } });
      // Caches of this process drop their copy now; other processes within CACHE_TTL_MS.
      announceStaffChange(this.connection, 'project', projectId);
      if (applied((await this.load(projectId))[field])) return;
    }
    throw new GatewayError('conflict', 'The project changed meanwhile; try again.');
  }

  private async view(project: Project): Promise<ProjectView> {
    const balance = await this.ledger.balance(project._id);
    return {
      project_id: project._id,
      name: project.name,
      status: project.status,
      currency: project.currency,
      balance: formatMinor(balance, currencyExponent(project.currency)),
      signing_keys: project.signing_keys.map(keyView),
      encryption_keys: project.encryption_keys.map(keyView),
      created_at: project.created_at.toISOString(),
      updated_at: project.updated_at.toISOString(),
    };
  }
}

function keyView(key: ProjectKey<string>): KeyView {
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.status,
    thumbprint: thumbprint(key.jwk as Record<string, string>),
    created_at: key.created_at.toISOString(),
    retired_at: key.retired_at?.toISOString() ?? null,
  };
}
