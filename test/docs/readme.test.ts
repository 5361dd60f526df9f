import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { slugTableMarkdown } from '../../src/errors/slug-table.js';
import { projectRoot } from '../../src/store/project-root.js';

describe('README', () => {
  it('when the slug table changes, then the README carries the same table (npm run slugs prints it)', async () => {
    const readme = await readFile(path.join(projectRoot(), 'README.md'), 'utf8');
    assert.ok(readme.includes(slugTableMarkdown()), 'README slug table is out of date: paste the output of `npm run slugs`');
  });

  it('when a variable is in .env.example, then the README configuration table names it', async () => {
    const root = projectRoot();
    const [readme, example] = await Promise.all([
      readFile(path.join(root, 'README.md'), 'utf8'),
      readFile(path.join(root, '.env.example'), 'utf8'),
    ]);
    const names = [...example.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    assert.ok(names.length > 20);
    const missing = names.filter((n) => !readme.includes(`\`${n}\``));
    assert.deepEqual(missing, []);
  });
});
