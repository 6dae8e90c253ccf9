/**
 * docs/OPERATIONS.md as tests: the guide's commands are read from the guide, so a test runs what an
 * operator reads and the two cannot drift apart (the way test/unit/pipeline/api-doc.test.ts keeps
 * docs/API.md's example in step with its test).
 *
 * How to use it (for every procedure of the guide):
 *
 * 1. In docs/OPERATIONS.md, put a marker on the line before the procedure's fenced `sh` block:
 *
 *        <!-- procedure: worker-start-stop -->
 *        ```sh
 *        sealpost config check --role dlq-worker
 *        ```
 *
 *    Names are lowercase words joined by `-`, unique in the guide.
 * 2. In an integration test, get the commands with `guideProcedure('worker-start-stop')` (the literal
 *    string: test/unit/docs/operations-guide-coverage.test.ts finds the tests that way and fails
 *    when a marked procedure has none). Each command is one line of the block: `\` continuations
 *    joined, `# …` comments and blank lines dropped.
 * 3. Run each command as written with `runGuideCommand(command, { env, vars })` (or
 *    `startGuideCommand` for one that keeps running, e.g. a worker). It runs in `sh -c` from the
 *    repository root with `sealpost` on PATH as `npx tsx src/cli/main.ts` (what `npm link` would
 *    give). Placeholders the guide writes as `<name>` (`<pid>`, `<port>`) are filled from `vars`;
 *    one left unfilled is an error, so a test cannot run a different command by accident. `…` (the
 *    guide's "same as before") is not runnable: a procedure meant to run has none.
 * 4. Check what the procedure promises (a ledger of records, health, metrics, exit codes) after
 *    running it; if the guide needs a step the test must add, fix the guide instead.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startWorkerProcess, type WorkerProcess } from './worker-process.js';

export const GUIDE_PATH = join(REPO_ROOT, 'docs/OPERATIONS.md');

export interface GuideProcedure {
  readonly name: string;
  /** 1-based line of the marker in the guide (for messages). */
  readonly line: number;
  readonly commands: readonly string[];
}

const MARKER = /^<!-- procedure: ([a-z0-9]+(?:-[a-z0-9]+)*) -->$/;

/** Every marked procedure of the guide (or of the given Markdown), in order. */
export function guideProcedures(markdown = readFileSync(GUIDE_PATH, 'utf8')): GuideProcedure[] {
  const lines = markdown.split('\n');
  const out: GuideProcedure[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]!.trim());
    if (m === null) continue;
    const name = m[1]!;
    if (seen.has(name)) throw new Error(`procedure ${name} is marked twice (line ${i + 1})`);
    seen.add(name);
    if (lines[i + 1]?.trim() !== '```sh')
      throw new Error(
        `procedure ${name} (line ${i + 1}): the next line must open a \`\`\`sh block`,
      );
    const body: string[] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim() !== '```'; j++) body.push(lines[j]!);
    if (j === lines.length) throw new Error(`procedure ${name} (line ${i + 1}): unclosed block`);
    out.push({ name, line: i + 1, commands: commandsOf(body) });
  }
  return out;
}

/** The commands of one marked procedure; throws if the guide has no such procedure. */
export function guideProcedure(name: string, markdown?: string): readonly string[] {
  const p = guideProcedures(markdown).find((x) => x.name === name);
  if (p === undefined) throw new Error(`docs/OPERATIONS.md has no procedure marked ${name}`);
  return p.commands;
}

/** Block lines → commands: continuations joined, comments and blank lines dropped. */
export function commandsOf(lines: readonly string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of lines) {
    const line = stripComment(raw).trimEnd();
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const command = (pending + line.trim()).trim();
    pending = '';
    if (command.length > 0) out.push(command);
  }
  if (pending.trim().length > 0) out.push(pending.trim());
  return out;
}

/** Drops a `#` comment that starts at a word boundary outside quotes. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** Fills `<name>` placeholders from vars; throws on one left unfilled or on the guide's `…`. */
export function fillPlaceholders(command: string, vars: Record<string, string> = {}): string {
  if (command.includes('…')) throw new Error(`not runnable as written (has …): ${command}`);
  const filled = command.replace(/<([a-z][a-z0-9-]*)>/g, (whole, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`no value for ${whole} in: ${command}`);
    return v;
  });
  return filled;
}

let shimDir: string | undefined;
/** A PATH entry with `sealpost` = `npx tsx <repo>/src/cli/main.ts` (what `npm link` would install). */
function sealpostShim(): string {
  if (shimDir !== undefined) return shimDir;
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-shim-'));
  const shim = join(dir, 'sealpost');
  writeFileSync(
    shim,
    `#!/bin/sh\nexec npx --no-install tsx ${JSON.stringify(join(REPO_ROOT, 'src/cli/main.ts'))} "$@"\n`,
  );
  chmodSync(shim, 0o755);
  shimDir = dir;
  return dir;
}

/** The environment a guide command runs with: PATH (with `sealpost`) and HOME, plus the given. */
export function guideEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: `${sealpostShim()}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '',
    ...env,
  };
}

export interface GuideRun {
  readonly command: string;
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** Runs one guide command to its end in `sh -c`, from the repository root. */
export function runGuideCommand(
  command: string,
  options: { env: Record<string, string>; vars?: Record<string, string>; timeoutMs?: number },
): Promise<GuideRun> {
  const filled = fillPlaceholders(command, options.vars);
  const child = spawn('sh', ['-c', filled], {
    cwd: REPO_ROOT,
    env: guideEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ command: filled, code, out, err });
    }),
  );
}

/**
 * Starts a guide command that keeps running (a worker): `sh -c 'exec <command>'`, so the process the
 * test holds is the command's own (e.g. `npm`), as when an operator or a supervisor starts it.
 * `name` is the ready line's name (`sealpost-dlq-worker`).
 */
export function startGuideCommand(
  command: string,
  options: { env: Record<string, string>; vars?: Record<string, string>; name: string },
): WorkerProcess {
  const filled = fillPlaceholders(command, options.vars);
  return startWorkerProcess('sh', ['-c', `exec ${filled}`], {
    name: options.name,
    env: guideEnv(options.env),
  });
}

export interface TableMetric {
  readonly name: string;
  /** Label names the table gives (`{class,code}`), or undefined when it gives none. */
  readonly labels: readonly string[] | undefined;
}

/** The metric names (with labels) in the first column of the guide's alert table. */
export function alertTableMetrics(markdown: string): TableMetric[] {
  const section = markdown.split(/^## Metrics to alert on$/m)[1]?.split(/^## /m)[0];
  if (section === undefined) throw new Error('no "Metrics to alert on" section');
  const out: TableMetric[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split('|')[1]!;
    for (const m of first.matchAll(/`(sealpost_[a-z_]+)(?:\{([a-z_,]+)\})?`/g))
      out.push({ name: m[1]!, labels: m[2]?.split(',') });
  }
  return out;
}

/**
 * The `sealpost …` lines of the first ```sh block after the paragraph starting `**<step>.` (e.g.
 * `'7'`), without the `sealpost` word, comments or line continuations.
 */
export function guideStepCommands(step: string): string[][] {
  const text = readFileSync(GUIDE_PATH, 'utf8');
  const at = text.indexOf(`\n**${step}. `);
  if (at < 0) throw new Error(`docs/OPERATIONS.md has no step **${step}.`);
  const open = text.indexOf('```sh\n', at);
  const close = text.indexOf('\n```', open + 6);
  if (open < 0 || close < 0) throw new Error(`step ${step} has no sh block`);
  return sealpostCommandsOf(text.slice(open + 6, close));
}

/**
 * The `sealpost …` lines of the `n`-th (from 1) ```sh block of the section `## <section>` that holds
 * `sealpost` commands (e.g. `guideSectionCommands('Quarantine', 2)`).
 */
export function guideSectionCommands(section: string, n: number): string[][] {
  const blocks = sectionBlocks(readFileSync(GUIDE_PATH, 'utf8'), section);
  const block = blocks[n - 1];
  if (block === undefined) throw new Error(`section ${section} has no sh block ${n}`);
  return block;
}

/**
 * The guide's unmarked procedures, as the ids the tests use: each numbered step (`'1'`, `'2'`, …) and
 * each unmarked sh block with `sealpost` commands of the other sections (`'Quarantine 1'`).
 */
export function guideStepsAndSections(): string[] {
  const text = readFileSync(GUIDE_PATH, 'utf8');
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
  // Blocks marked `<!-- procedure: NAME -->` are read and checked by name (guideProcedure).
  return [...body.matchAll(/(<!-- procedure: [a-z0-9-]+ -->\n)?```sh\n([\s\S]*?)\n```/g)]
    .filter((m) => m[1] === undefined)
    .map((m) => sealpostCommandsOf(m[2]!))
    .filter((c) => c.length > 0);
}

function sealpostCommandsOf(block: string): string[][] {
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
  const text = readFileSync(GUIDE_PATH, 'utf8');
  const at = text.indexOf(`\n${start}`);
  if (at < 0) throw new Error(`docs/OPERATIONS.md has no paragraph starting ${start}`);
  const end = text.indexOf('\n\n', at + 1);
  const paragraph = text.slice(at, end < 0 ? text.length : end);
  return [...paragraph.matchAll(/`sealpost ([^`]+)`/g)].map((m) => m[1]!.trim().split(/\s+/));
}
