/** Runs the sealpost CLI in-process with every command group, capturing output. */
import { registerAllGroups } from '../../src/cli/groups.js';
import { createProgram, runProgram } from '../../src/cli/program.js';
import type { CliIo, CliStdin } from '../../src/cli/output.js';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export interface RunOptions {
  readonly cwd?: string;
  /** Lines/bytes on stdin, and whether it claims to be a TTY. */
  readonly stdin?: { readonly text?: string; readonly isTTY?: boolean };
  readonly signal?: AbortSignal;
}

export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
  options: RunOptions = {},
): Promise<CliRun> {
  let out = '';
  let err = '';
  const text = options.stdin?.text ?? '';
  const stdin: CliStdin = {
    isTTY: options.stdin?.isTTY ?? false,
    readLine: () => Promise.resolve(text.split('\n')[0] ?? ''),
    readAll: () => Promise.resolve(Buffer.from(text, 'latin1')),
  };
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env,
    cwd: options.cwd ?? process.cwd(),
    stdin,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const program = createProgram(io, registerAllGroups);
  const code = await runProgram(program, argv, io);
  return { code, out, err };
}
