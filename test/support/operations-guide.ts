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
  return commandsOf(text.slice(open + 6, close));
}

/**
 * The `sealpost …` lines of the `n`-th (from 1) ```sh block of the section `## <section>` that holds
 * `sealpost` commands (e.g. `guideSectionCommands('Quarantine', 2)`).
 */
export function guideSectionCommands(section: string, n: number): string[][] {
  const blocks = sectionBlocks(readFileSync(GUIDE, 'utf8'), section);
  const block = blocks[n - 1];
  if (block === undefined) throw new Error(`section ${section} has no sh block ${n}`);
  return block;
}

/**
 * Every procedure of the guide, as the ids the tests use: each numbered step (`'1'`, `'2'`, …) and
 * each sh block with `sealpost` commands of the other sections (`'Quarantine 1'`, `'Audit log 1'`).
 */
export function guideProcedures(): string[] {
  const text = readFileSync(GUIDE, 'utf8');
  const steps = [...text.matchAll(/\n\*\*(\d+)\. /g)].map((m) => m[1]!);
  const sections = [...text.matchAll(/\n## (.+)\n/g)].map((m) => m[1]!.trim());
  const others = sections
    .filter((s) => s !== 'Key lifecycle')
    .flatMap((s) => sectionBlocks(text, s).map((_, i) => `${s} ${i + 1}`));
  return [...steps, ...others];
}

function sectionBlocks(text: string, section: string): string[][][] {
  const at = text.indexOf(`\n## ${section}\n`);
  if (at < 0) throw new Error(`docs/OPERATIONS.md has no section ## ${section}`);
  const next = text.indexOf('\n## ', at + 4);
  const body = text.slice(at, next < 0 ? text.length : next);
  return [...body.matchAll(/```sh\n([\s\S]*?)\n```/g)]
    .map((m) => commandsOf(m[1]!))
    .filter((c) => c.length > 0);
}

function commandsOf(block: string): string[][] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line.startsWith('sealpost '))
    .map((line) => line.split(/\s+/).slice(1));
}

/**
 * The `sealpost …` inline code spans (single backticks) of the guide paragraph that starts with
 * `start` (e.g. `'Rotating a **sender**'`), as argv arrays like guideStepCommands.
 */
export function guideParagraphCommands(start: string): string[][] {
  const text = readFileSync(GUIDE, 'utf8');
  const at = text.indexOf(`\n${start}`);
  if (at < 0) throw new Error(`docs/OPERATIONS.md has no paragraph starting ${start}`);
  const end = text.indexOf('\n\n', at + 1);
  const paragraph = text.slice(at, end < 0 ? text.length : end);
  return [...paragraph.matchAll(/`sealpost ([^`]+)`/g)].map((m) => m[1]!.trim().split(/\s+/));
}
