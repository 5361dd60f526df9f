import { z } from 'zod';
import { configSchema } from './config.js';

/**
 * docs/configuration.md and .env.example, generated from the configuration schema: each setting's
 * section and `.describe()` text, its default and its accepted values come from the schema itself,
 * so the documentation cannot drift from what the gateway reads (`npm run docs:config` writes
 * both; the docs check compares them).
 */

export const CONFIG_DOCS_COMMAND = 'npm run docs:config';

export interface SettingDoc {
  name: string;
  section: string;
  description: string;
  /** As written in the environment; undefined when unset by default. */
  default: string | undefined;
  /** The values accepted, in words (`integer, 0 to 65535`, `true or false`, ...). */
  values: string;
}

const BOOLEAN_WORDS = ['true', 'false', '1', '0', 'yes', 'no'];

interface InputSchema {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  format?: string;
}

/** Every setting, in schema order. */
export function settingDocs(): SettingDoc[] {
  return Object.entries(configSchema.shape).map(([name, setting]) => {
    const meta = z.globalRegistry.get(setting);
    const def = setting._zod.def;
    const fallback = def.type === 'default' ? (def as unknown as { defaultValue: string | number | boolean }).defaultValue : undefined;
    return {
      name,
      section: typeof meta?.section === 'string' ? meta.section : '',
      description: meta?.description ?? '',
      default: fallback === undefined ? undefined : String(fallback),
      values: valuesOf(z.toJSONSchema(setting, { io: 'input', unrepresentable: 'any' }) as InputSchema),
    };
  });
}

function valuesOf(schema: InputSchema): string {
  if (schema.enum) {
    if (schema.enum.length === BOOLEAN_WORDS.length && BOOLEAN_WORDS.every((w) => schema.enum!.includes(w))) return '`true` or `false`';
    return schema.enum.map((v) => `\`${String(v)}\``).join(', ');
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const kind = schema.type === 'integer' ? 'integer' : 'number';
    return schema.minimum !== undefined && schema.maximum !== undefined ? `${kind}, ${schema.minimum} to ${schema.maximum}` : kind;
  }
  return schema.format === 'uri' ? 'URL' : 'text';
}

function sections(docs: SettingDoc[]): Map<string, SettingDoc[]> {
  const bySection = new Map<string, SettingDoc[]>();
  for (const doc of docs) bySection.set(doc.section, [...(bySection.get(doc.section) ?? []), doc]);
  return bySection;
}

/** GitHub's anchor of a plain heading. */
function anchor(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function configurationMarkdown(docs: SettingDoc[] = settingDocs()): string {
  const grouped = sections(docs);
  const lines = [
    '# Configuration',
    '',
    `<!-- Generated from src/config/config.ts by \`${CONFIG_DOCS_COMMAND}\`: edit the descriptions there. -->`,
    '',
    'The gateway reads these settings from its environment once, at start (and from a `.env` file in',
    'its working folder when there is one; `.env.example` lists every setting with its default). An',
    'empty value means unset. The whole configuration is checked before the gateway listens: a bad or',
    'missing value stops it with one line per problem. Booleans take `true`/`false`, `1`/`0` or',
    '`yes`/`no`.',
    '',
    'Production (`NODE_ENV=production`, or `MONGODB_URI` set without `NODE_ENV`) has rules of its own,',
    'checked at start: see `NODE_ENV`. [docs/operations.md](operations.md) says how to set the gateway up',
    'for production.',
    '',
    ...[...grouped.keys()].map((title) => `- [${title}](#${anchor(title)})`),
  ];
  for (const [title, settings] of grouped) {
    lines.push('', `## ${title}`, '', '| setting | default | values | meaning |', '|---|---|---|---|');
    for (const s of settings) {
      lines.push(`| \`${s.name}\` | ${s.default === undefined ? 'unset' : `\`${cell(s.default)}\``} | ${s.values} | ${cell(s.description)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `# ` comment lines of at most `width` characters. */
function comment(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.replace(/`/g, '').split(/\s+/).filter(Boolean)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  if (line !== '#') lines.push(line);
  return lines;
}

export function envExample(docs: SettingDoc[] = settingDocs()): string {
  const lines = [
    '# Every setting the gateway reads, with its default. Copy to .env (git-ignored) to change any;',
    '# unset or empty means the default. docs/configuration.md says more of each.',
    `# Generated from src/config/config.ts by \`${CONFIG_DOCS_COMMAND}\`: edit the descriptions there.`,
  ];
  for (const [title, settings] of sections(docs)) {
    lines.push('', `# --- ${title} ${'-'.repeat(Math.max(3, 92 - title.length))}`);
    for (const s of settings) lines.push(...comment(s.description), `${s.name}=${s.default ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}
