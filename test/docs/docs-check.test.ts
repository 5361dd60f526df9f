import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { anchorsOf, checkDocs, repositoryDocsContext, type DocsContext } from '../../scripts/lib/docs-check.js';
import { projectRoot } from '../../src/store/project-root.js';

/** A small repository whose docs are right; each case below breaks one thing. */
const FIXTURE: Record<string, string> = {
  'package.json': JSON.stringify({ scripts: { start: 'node x', bench: 'node dist/bench/run.js' }, dependencies: { express: '^5' }, devDependencies: { '@types/node': '^20', mocha: '^11' } }),
  'bench/run.ts': "const n = Number(process.env.BENCH_REQUESTS ?? '10');\n",
  'src/orders/index.ts': '',
  'README.md': [
    '# Fixture',
    '',
    'Start with `npm start`; measure with `npm run bench` (`BENCH_REQUESTS=100 node dist/bench/run.js`).',
    'Settings: [the reference](docs/configuration.md#store), [ports](docs/configuration.md#process) and [below](#errors).',
    '',
    '## Errors',
    '',
    '| slug | HTTP |',
    '|---|---|',
    '| `not_found` | 404 |',
    '',
    '## Source map',
    '',
    '`src/orders/`: orders.',
    '',
    '## Dependencies and why',
    '',
    '| package | why |',
    '|---|---|',
    '| express | HTTP |',
    '| mocha | tests |',
    '| @types/* | types |',
  ].join('\n'),
  'docs/configuration.md': ['# Configuration', '', '## Process', '', '`PORT`: the port.', '', '## Store', '', '`MONGODB_URI`: the store.'].join('\n'),
  'docs/guide.md': '# Guide\n\nSet `PORT=8080`; see [the README](../README.md#source-map).\n',
};

const SLUG_TABLE = '| slug | HTTP |\n|---|---|\n| `not_found` | 404 |';

async function fixture(changes: Record<string, string | null> = {}): Promise<{ context: DocsContext; close: () => Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'docs-check-'));
  for (const [file, text] of Object.entries({ ...FIXTURE, ...changes })) {
    if (text === null) continue;
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  }
  return {
    context: { root, settings: ['PORT', 'MONGODB_URI'], readmeIncludes: [{ text: SLUG_TABLE, command: 'npm run slugs', what: 'the slug table' }] },
    close: () => rm(root, { recursive: true, force: true }),
  };
}

async function problemsWith(changes: Record<string, string | null>, settings?: string[]): Promise<string[]> {
  const { context, close } = await fixture(changes);
  try {
    return checkDocs(settings ? { ...context, settings } : context);
  } finally {
    await close();
  }
}

const readmeWith = (from: string, to: string) => FIXTURE['README.md']!.replace(from, to);

describe('docs check', () => {
  it('when README.md and docs/ are checked against this repository, then there is nothing to report (npm run docs:check)', async () => {
    const problems = checkDocs(await repositoryDocsContext(projectRoot()));
    assert.deepEqual(problems, [], `the docs have drifted from the code:\n${problems.join('\n')}`);
  });

  it('when the fixture is right, then it passes, so each case below fails for its one change', async () => {
    assert.deepEqual(await problemsWith({}), []);
  });

  it('when a relative link names a file that does not exist, then the check names the file and line', async () => {
    const problems = await problemsWith({ 'docs/guide.md': '# Guide\n\nSee [ops](operations.md).\n' });
    assert.deepEqual(problems, ['docs/guide.md:3: link to operations.md: docs/operations.md does not exist']);
  });

  it('when a link names an anchor no heading has, in another file or its own, then the check says so', async () => {
    const problems = await problemsWith({ 'README.md': readmeWith('(docs/configuration.md#store)', '(docs/configuration.md#stores)').replace('(#errors)', '(#mistakes)') });
    assert.deepEqual(problems, [
      'README.md:4: link to docs/configuration.md#stores: docs/configuration.md has no heading with the anchor #stores',
      'README.md:4: link to #mistakes: README.md has no heading with the anchor #mistakes',
    ]);
  });

  it('when a link is inside code, then it is not checked; when it is a URL, then it is not checked either', async () => {
    const problems = await problemsWith({ 'docs/guide.md': '# Guide\n\n`[x](missing.md)`\n\n```\n[y](missing.md)\n```\n\n[z](https://example.com/missing.md)\n' });
    assert.deepEqual(problems, []);
  });

  it('when the docs name an npm script package.json does not have, or a program with no source, then the check names each', async () => {
    const problems = await problemsWith({ 'docs/guide.md': '# Guide\n\n```sh\nnpm run --silent bench:nowhere -- --json\nnode dist/bench/gone.js\n```\n' });
    assert.deepEqual(problems, [
      'docs/guide.md:4: `npm run bench:nowhere` is not a script of package.json',
      'docs/guide.md:5: dist/bench/gone.js is built from nothing: bench/gone.ts does not exist',
    ]);
  });

  it('when the docs name a setting the configuration does not have, then the check says so; a variable a bench reads is fine', async () => {
    const problems = await problemsWith({ 'docs/guide.md': '# Guide\n\nSet `PORT_NUMBER` and `BENCH_REQUESTS`, or `LISTEN_ADDR=0.0.0.0`.\n' });
    assert.deepEqual(problems, [
      'docs/guide.md:3: `PORT_NUMBER` is not a setting of src/config/config.ts nor a variable any code reads',
      'docs/guide.md:3: `LISTEN_ADDR` is not a setting of src/config/config.ts nor a variable any code reads',
    ]);
  });

  it('when a setting is missing from the configuration reference, then the check names it', async () => {
    const problems = await problemsWith({}, ['PORT', 'MONGODB_URI', 'REDIS_URL']);
    assert.deepEqual(problems, ['setting REDIS_URL is not documented in docs/configuration.md']);
  });

  it('when the README slug table differs from the generated one, then the check says which command prints it', async () => {
    const problems = await problemsWith({ 'README.md': readmeWith('| `not_found` | 404 |', '| `not_found` | 410 |') });
    assert.deepEqual(problems, ['README.md: the slug table is out of date: paste the output of `npm run slugs`']);
  });

  it('when a dependency or a source folder has no README line, then the check names it', async () => {
    const problems = await problemsWith({ 'README.md': readmeWith('| mocha | tests |\n', ''), 'src/ledger/index.ts': '' });
    assert.deepEqual(problems, [
      'README.md: dependency mocha (package.json) has no line in the dependencies table saying why',
      'README.md: src/ledger/ is missing from the source map',
    ]);
  });

  it('when headings repeat or carry code and punctuation, then their anchors are the ones GitHub gives', () => {
    const anchors = anchorsOf('# Support console (`/console`)\n## Runbook: key rotation\n## Notes\n## Notes\n```\n# not a heading\n```\n<a id="custom"></a>\n');
    assert.deepEqual([...anchors].sort(), ['custom', 'notes', 'notes-1', 'runbook-key-rotation', 'support-console-console']);
  });
});
