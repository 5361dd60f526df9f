/** Checks README.md and docs/ against the code (scripts/lib/docs-check.ts); exit 1 names each problem. */
import { projectRoot } from '../src/store/project-root.js';
import { checkDocs, repositoryDocsContext } from './lib/docs-check.js';

const problems = checkDocs(await repositoryDocsContext(projectRoot()));
for (const problem of problems) process.stdout.write(`${problem}\n`);
process.stdout.write(problems.length === 0 ? 'docs check: ok\n' : `docs check: ${problems.length} problem(s)\n`);
process.exitCode = problems.length === 0 ? 0 : 1;
