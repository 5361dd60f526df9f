import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CONFIG_DOCS_COMMAND, configurationMarkdown, envExample, settingDocs } from '../../src/config/config-docs.js';
import { projectRoot } from '../../src/store/project-root.js';

describe('configuration docs', () => {
  it('when a setting is in the schema, then it has a section and a description', () => {
    const docs = settingDocs();
    assert.ok(docs.length > 50);
    const undocumented = docs.filter((d) => d.section === '' || d.description.trim() === '').map((d) => d.name);
    assert.deepEqual(undocumented, [], `settings without a section or a description: declare each inside a section(...) of src/config/config.ts with .describe('...'), then run \`${CONFIG_DOCS_COMMAND}\``);
  });

  it('when the schema changes, then the committed docs/configuration.md and .env.example are what the generator writes', async () => {
    const root = projectRoot();
    for (const [file, expected] of [
      ['docs/configuration.md', configurationMarkdown()],
      ['.env.example', envExample()],
    ] as const) {
      const committed = await readFile(path.join(root, file), 'utf8');
      assert.ok(committed === expected, `${file} is out of date with src/config/config.ts: run \`${CONFIG_DOCS_COMMAND}\` and commit the result`);
    }
  });

  it('when a setting has a default, then the table shows it as the environment would carry it, and unset otherwise', () => {
    const byName = new Map(settingDocs().map((d) => [d.name, d]));
    assert.equal(byName.get('PORT')?.default, '8080');
    assert.equal(byName.get('PORT')?.values, 'integer, 0 to 65535');
    assert.equal(byName.get('WORKER_ENABLED')?.default, 'true');
    assert.equal(byName.get('WORKER_ENABLED')?.values, '`true` or `false`');
    assert.equal(byName.get('MONGODB_URI')?.default, undefined);
    assert.equal(byName.get('LOG_LEVEL')?.values, '`error`, `warn`, `info`, `debug`');
    const markdown = configurationMarkdown();
    assert.match(markdown, /^\| `PORT` \| `8080` \| integer, 0 to 65535 \| .+ \|$/m);
    assert.match(markdown, /^\| `MONGODB_URI` \| unset \| text \| .+ \|$/m);
    assert.match(envExample(), /^PORT=8080$/m);
    assert.match(envExample(), /^MONGODB_URI=$/m);
  });

  it('when a description holds a pipe, then the table cell escapes it', () => {
    const markdown = configurationMarkdown([{ name: 'X_Y', section: 'S', description: 'a | b', default: undefined, values: 'text' }]);
    assert.match(markdown, /\| a \\\| b \|$/m);
  });
});
