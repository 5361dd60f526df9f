/** Writes docs/configuration.md and .env.example from the configuration schema (src/config/config.ts). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configurationMarkdown, envExample } from '../src/config/config-docs.js';
import { projectRoot } from '../src/store/project-root.js';

const root = projectRoot();
await writeFile(path.join(root, 'docs', 'configuration.md'), configurationMarkdown());
await writeFile(path.join(root, '.env.example'), envExample());
process.stdout.write('wrote docs/configuration.md and .env.example\n');
