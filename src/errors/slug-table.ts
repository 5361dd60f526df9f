import { SLUGS } from './slugs.js';

/** The slug table as Markdown, for the README (a test checks the README still matches it). */
export function slugTableMarkdown(): string {
  const rows = Object.entries(SLUGS).map(([slug, { status, message }]) => `| \`${slug}\` | ${status} | ${message} |`);
  return ['| slug | HTTP | meaning |', '|---|---|---|', ...rows].join('\n');
}
