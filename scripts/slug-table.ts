/** Prints the README's error-slug table from src/errors/slugs.ts (the one source of slugs). */
import { slugTableMarkdown } from '../src/errors/slug-table.js';

process.stdout.write(`${slugTableMarkdown()}\n`);
