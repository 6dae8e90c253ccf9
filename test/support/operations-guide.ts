/**
 * The commands of one numbered step of docs/OPERATIONS.md, as argv arrays for the CLI: tests run a
 * procedure exactly as the guide writes it (docs/OPERATIONS.md is kept in step with them this way).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const GUIDE = join(import.meta.dirname, '../../docs/OPERATIONS.md');

/**
 * The `sealpost …` lines of the first ```sh block after the paragraph starting `**<step>.` (e.g.
 * `'7'`), without the `sealpost` word, comments or line continuations.
 */
export function guideStepCommands(step: string): string[][] {
  const text = readFileSync(GUIDE, 'utf8');
  const at = text.indexOf(`\n**${step}. `);
  if (at < 0) throw new Error(`docs/OPERATIONS.md has no step **${step}.`);
  const open = text.indexOf('```sh\n', at);
  const close = text.indexOf('\n```', open + 6);
  if (open < 0 || close < 0) throw new Error(`step ${step} has no sh block`);
  return text
    .slice(open + 6, close)
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line.startsWith('sealpost '))
    .map((line) => line.split(/\s+/).slice(1));
}
