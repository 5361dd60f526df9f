import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The docs check: README.md and docs/ against the code they describe. Every relative link and
 * anchor resolves, every `npm run` script and `node dist/…` program named exists, every setting
 * named is one the gateway reads (or a variable that a bench, script, simulator or test reads),
 * every setting is in the configuration reference, and the README's generated and listed parts
 * (slug table, dependencies, source folders) match the code. Returns one line per problem.
 */

export interface DocsContext {
  /** The repository (or a fixture laid out like one). */
  root: string;
  /** The gateway's settings (src/config/config.ts). */
  settings: readonly string[];
  /** Upper-case names the docs may use that are neither settings nor environment variables read by code. */
  otherNames?: readonly string[];
  /** Text the README must contain, and the command that prints it. */
  readmeIncludes?: readonly { text: string; command: string; what: string }[];
}

const CONFIGURATION_DOC = 'docs/configuration.md';

export function markdownFiles(root: string): string[] {
  const docs = path.join(root, 'docs');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) return walk(full);
      return e.name.endsWith('.md') ? [path.relative(root, full)] : [];
    });
  return ['README.md', ...(existsSync(docs) ? walk(docs).sort() : [])];
}

/** The text outside fenced code blocks and inline code spans, line by line (code kept as blanks). */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line.replace(/`[^`]*`/g, (code) => ' '.repeat(code.length));
  });
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}_ -]/gu, '').replace(/ /g, '-');
}

export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = headingAnchor(heading[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

function checkLinks(root: string, file: string, markdown: string): string[] {
  const problems: string[] = [];
  const lines = prose(markdown);
  lines.forEach((line, i) => {
    for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const at = `${file}:${i + 1}`;
      const [linkPath, fragment] = target.split('#', 2) as [string, string | undefined];
      const resolved = linkPath === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(linkPath));
      if (!existsSync(resolved)) {
        problems.push(`${at}: link to ${target}: ${path.relative(root, resolved)} does not exist`);
        continue;
      }
      if (fragment === undefined) continue;
      if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) {
        problems.push(`${at}: link to ${target}: an anchor into a file that is not Markdown`);
        continue;
      }
      if (!anchorsOf(readFileSync(resolved, 'utf8')).has(fragment)) {
        problems.push(`${at}: link to ${target}: ${path.relative(root, resolved)} has no heading with the anchor #${fragment}`);
      }
    }
  });
  return problems;
}

function checkCommands(root: string, file: string, markdown: string, scripts: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  markdown.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/\bnpm run(?:\s+(?:--silent|-s))?\s+([a-z0-9][\w:.-]*)/g)) {
      if (!scripts.has(m[1]!)) problems.push(`${file}:${i + 1}: \`npm run ${m[1]}\` is not a script of package.json`);
    }
    for (const m of line.matchAll(/\bdist\/([\w./-]+)\.js\b/g)) {
      const source = m[1]!;
      if (!existsSync(path.join(root, `${source}.ts`))) problems.push(`${file}:${i + 1}: dist/${source}.js is built from nothing: ${source}.ts does not exist`);
    }
  });
  return problems;
}

/** Environment variables that code outside the configuration reads (benches, scripts, the simulator, the store server, tests). */
export function environmentReads(root: string): Set<string> {
  const names = new Set<string>();
  const read = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'patches' && e.name !== 'dist') read(full);
      } else if (/\.(ts|go)$/.test(e.name)) {
        const code = readFileSync(full, 'utf8');
        for (const m of code.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]+)|\[['"]([A-Z][A-Z0-9_]+)['"]\])|Getenv\("([A-Z][A-Z0-9_]+)"\)/g)) names.add((m[1] ?? m[2] ?? m[3])!);
      }
    }
  };
  for (const dir of ['src', 'packages', 'scripts', 'bench', 'provider-sim', 'store-server', 'test']) read(path.join(root, dir));
  return names;
}

const SETTING_LIKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

/** Names written as settings: in inline code (`NAME`) or assigned (`NAME=`). */
function namedSettings(markdown: string): { name: string; line: number }[] {
  const found: { name: string; line: number }[] = [];
  markdown.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/`([A-Z][A-Z0-9_]+)`|\b([A-Z][A-Z0-9_]+)=/g)) {
      const name = (m[1] ?? m[2])!;
      if (SETTING_LIKE.test(name)) found.push({ name, line: i + 1 });
    }
  });
  return found;
}

function tableFirstCells(markdown: string, heading: RegExp): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#{1,6}\s/.test(l) && heading.test(l));
  if (start < 0) return [];
  const cells: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,6}\s/.test(line)) break;
    const cell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (cell !== undefined) cells.push(...cell.split(',').map((c) => c.replace(/`/g, '').trim()));
  }
  return cells;
}

export function checkDocs(context: DocsContext): string[] {
  const { root } = context;
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const scripts = new Set(Object.keys(pkg.scripts ?? {}));
  const settings = new Set(context.settings);
  const known = new Set([...settings, ...environmentReads(root), ...(context.otherNames ?? [])]);
  const problems: string[] = [];
  const texts = new Map(markdownFiles(root).map((file) => [file, readFileSync(path.join(root, file), 'utf8')]));

  for (const [file, markdown] of texts) {
    problems.push(...checkLinks(root, file, markdown), ...checkCommands(root, file, markdown, scripts));
    for (const { name, line } of namedSettings(markdown)) {
      if (!known.has(name)) problems.push(`${file}:${line}: \`${name}\` is not a setting of src/config/config.ts nor a variable any code reads`);
    }
  }

  const reference = texts.get(CONFIGURATION_DOC);
  if (reference === undefined) problems.push(`${CONFIGURATION_DOC} is missing: every setting is documented there`);
  else for (const name of settings) if (!reference.includes(`\`${name}\``)) problems.push(`setting ${name} is not documented in ${CONFIGURATION_DOC}`);

  const readme = texts.get('README.md') ?? '';
  for (const { text, command, what } of context.readmeIncludes ?? []) {
    if (!readme.includes(text)) problems.push(`README.md: ${what} is out of date: paste the output of \`${command}\``);
  }
  const listed = tableFirstCells(readme, /dependencies/i);
  for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]) {
    const named = listed.some((cell) => cell === dep || (cell.endsWith('/*') && dep.startsWith(cell.slice(0, -1))));
    if (!named) problems.push(`README.md: dependency ${dep} (package.json) has no line in the dependencies table saying why`);
  }
  const srcDir = path.join(root, 'src');
  if (existsSync(srcDir)) {
    for (const e of readdirSync(srcDir, { withFileTypes: true })) {
      if (e.isDirectory() && !readme.includes(`src/${e.name}/`)) problems.push(`README.md: src/${e.name}/ is missing from the source map`);
    }
  }
  return problems;
}

/** Upper-case names in the docs that are not environment variables: an algorithm and a product code. */
const NOT_VARIABLES = ['RSA1_5', 'DEMO_VIRTUAL_USD'];

/** This repository's docs, checked against this repository's code. */
export async function repositoryDocsContext(root: string): Promise<DocsContext> {
  const [{ settingDocs }, { slugTableMarkdown }] = await Promise.all([import('../../src/config/config-docs.js'), import('../../src/errors/slug-table.js')]);
  return {
    root,
    settings: settingDocs().map((s) => s.name),
    otherNames: NOT_VARIABLES,
    readmeIncludes: [{ text: slugTableMarkdown(), command: 'npm run slugs', what: 'the slug table' }],
  };
}
