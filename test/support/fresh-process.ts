/**
 * Runs a script in a fresh Node process (`node --import tsx --input-type=module -e <script>` by
 * default) and collects what it printed and how it ended.
 *
 * Why a fresh process: Node's module cache is per process, and vitest's workers share it between test
 * files. Sealpost replaces some kafkajs modules (CRC32C, grouping by partition, produce encoding,
 * fetch decoding) in that cache before kafkajs loads them, and keeps kafkajs' own when kafkajs got
 * there first; so which one a process ends up with depends on load order, and load order can only be
 * tested in a process whose cache nothing has filled yet. The same holds for anything else a test
 * must see from a clean start: module resolution that cannot find a package, a small heap, a package
 * as an installed project imports it.
 *
 * The script prints its result; by convention its last line of stdout is one JSON value
 * (runFreshScriptForJson parses it).
 */
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from './third-party-vectors.js';

export interface FreshScriptOptions {
  /** Load TypeScript through tsx (`--import tsx`, first); default true. */
  readonly tsx?: boolean;
  /** Further Node flags, after tsx's (e.g. `--max-old-space-size=96`, another `--import`). */
  readonly nodeFlags?: readonly string[];
  /** How Node evaluates the script; default 'module' (import, top-level await). */
  readonly inputType?: 'module' | 'commonjs';
  /** Working directory; default the repository root (scripts import `./src/...` from it). */
  readonly cwd?: string;
  /** The child's environment; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** The child is killed (SIGTERM) after this long; default 60 s. */
  readonly timeoutMs?: number;
}

/** How a fresh process ended and what it printed. */
export interface FreshScriptRun {
  /** Exit code, or null when a signal ended it (as on a timeout). */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `script` in a new Node process (this one's binary, process.execPath) and waits for it to end.
 * Never throws for the child's failure: the caller asserts on status, stdout and stderr.
 */
export function runFreshScript(script: string, options: FreshScriptOptions = {}): FreshScriptRun {
  const args = [
    ...(options.tsx === false ? [] : ['--import', 'tsx']),
    ...(options.nodeFlags ?? []),
    `--input-type=${options.inputType ?? 'module'}`,
    '-e',
    script,
  ];
  const res = spawnSync(process.execPath, args, {
    cwd: options.cwd ?? REPO_ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    env: options.env ?? process.env,
  });
  if (res.error !== undefined && res.stdout === null) throw res.error; // not started at all
  return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr };
}

/** The last line of `stdout`, parsed as JSON. */
export function lastJsonLine<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

/**
 * Runs `script` as runFreshScript does and returns its last line of stdout parsed as JSON; throws,
 * with the child's stderr, when the child did not exit with 0 (an error, a signal, a timeout).
 */
export function runFreshScriptForJson<T = Record<string, unknown>>(
  script: string,
  options: FreshScriptOptions = {},
): T {
  const run = runFreshScript(script, options);
  if (run.status !== 0) {
    const how = run.signal === null ? String(run.status) : run.signal;
    throw new Error(`child failed (${how}): ${run.stderr}`);
  }
  return lastJsonLine<T>(run.stdout);
}
