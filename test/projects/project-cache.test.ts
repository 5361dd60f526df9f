import assert from 'node:assert/strict';
import { createBackOffice } from '../../src/back-office/back-office.js';
import { ProjectCache } from '../../src/projects/project-cache.js';
import { projectModel, type Project } from '../../src/projects/project-model.js';
import { ProjectRepository } from '../../src/projects/project-repository.js';
import { makeProject } from '../support/orders-fixtures.js';
import { testStore } from '../support/test-store.js';

const STAFF = { staff: 'tests', via: 'cli' as const, requestId: 'project-cache' };

describe('project cache', () => {
  const conn = () => testStore().connection;
  let clock: number;
  let reads: number;
  let cache: ProjectCache;
  const repository = () => {
    const real = new ProjectRepository(conn());
    return {
      findById: (id: string) => {
        reads += 1;
        return real.findById(id);
      },
    };
  };

  beforeEach(() => {
    clock = 1_000_000;
    reads = 0;
    cache = new ProjectCache(repository(), conn(), 5000, () => clock);
  });
  afterEach(() => cache.close());

  it('when a project is read again within the TTL, then the store is not asked again', async () => {
    const project = await makeProject(conn());
    assert.equal((await cache.findById(project._id))?._id, project._id);
    clock += 4999;
    assert.equal((await cache.findById(project._id))?._id, project._id);
    assert.equal(reads, 1);
  });

  it('when another process changes the project, then this one sees it once the TTL has passed, not before', async () => {
    const project = await makeProject(conn());
    await cache.findById(project._id);
    // A write this process was not told about: another gateway's admin API, or a script.
    await projectModel(conn()).updateOne({ _id: project._id }, { $set: { status: 'disabled' } });
    clock += 4999;
    assert.equal((await cache.findById(project._id))?.status, 'active', 'within the bound the copy may be stale');
    clock += 2;
    assert.equal((await cache.findById(project._id))?.status, 'disabled', 'past the bound it is read again');
    assert.equal(reads, 2);
  });

  it('when staff disable a project or retire its key through this process, then the next request sees it at once', async () => {
    const office = createBackOffice(conn()).projects;
    const created = await office.create(STAFF, { name: 'Cached partner', currency: 'USD' });
    assert.equal((await cache.findById(created.project_id))?.status, 'active');
    await office.setStatus(STAFF, created.project_id, 'disabled');
    assert.equal((await cache.findById(created.project_id))?.status, 'disabled');
    await office.setStatus(STAFF, created.project_id, 'active');
    assert.equal((await cache.findById(created.project_id))?.status, 'active');
    assert.equal(reads, 3, 'one read per change, none in between');
  });

  it('when many requests miss at once, then they share one read; when the project does not exist, then nothing is remembered', async () => {
    const project = await makeProject(conn());
    const found = await Promise.all(Array.from({ length: 20 }, () => cache.findById(project._id)));
    assert.ok(found.every((p: Project | null) => p?._id === project._id));
    assert.equal(reads, 1);

    assert.equal(await cache.findById('prj_not_yet'), null);
    await makeProject(conn(), { _id: 'prj_not_yet' }).catch(() => undefined);
    assert.equal((await cache.findById('prj_not_yet'))?._id, 'prj_not_yet', 'a project created after a miss is found at once');
  });

  it('when the TTL is 0, then every lookup reads the store', async () => {
    const uncached = new ProjectCache(repository(), conn(), 0, () => clock);
    const project = await makeProject(conn());
    await uncached.findById(project._id);
    await uncached.findById(project._id);
    assert.equal(reads, 2);
    uncached.close();
  });
});
