/**
 * The docs/API.md "Every error code" table, generated from src/error-codes.ts. The test beside this
 * file keeps the copy in docs/API.md equal to it; after adding a code, print the new table with
 * `npx tsx test/unit/errors/error-code-table.ts` and paste it between the markers.
 */
import { SEALPOST_ERROR_CODES } from '../../../src/error-codes.js';
import type { Retriability } from '../../../src/errors.js';

export const TABLE_BEGIN =
  '<!-- error-codes:begin (generated: npx tsx test/unit/errors/error-code-table.ts) -->';
export const TABLE_END = '<!-- error-codes:end -->';

const list = (codes: readonly string[]): string =>
  codes.length === 0 ? '—' : codes.map((c) => `\`${c}\``).join(', ');

/** One row per error class: its codes that are retriable, not retriable, or decided per error. */
export function errorCodeTable(): string {
  const rows = [
    '| class | retriable | not retriable | retriable or not, per error |',
    '|---|---|---|---|',
  ];
  for (const [cls, table] of Object.entries(SEALPOST_ERROR_CODES)) {
    const by = (r: Retriability): string[] =>
      Object.entries(table as Readonly<Record<string, Retriability>>)
        .filter(([, v]) => v === r)
        .map(([c]) => c);
    rows.push(`| \`${cls}\` | ${list(by('yes'))} | ${list(by('no'))} | ${list(by('varies'))} |`);
  }
  return [TABLE_BEGIN, ...rows, TABLE_END].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${errorCodeTable()}\n`);
