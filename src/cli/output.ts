/** Where CLI commands write; tests pass buffers, main.ts passes the process streams. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Standard input (confirmations, `inspect --file -`); absent means "not a TTY, empty". */
  readonly stdin?: CliStdin;
  /** Aborted on SIGINT/SIGTERM: long-running commands (`audit tail --follow`) stop on it. */
  readonly signal?: AbortSignal;
}

/** The bits of standard input commands use. */
export interface CliStdin {
  readonly isTTY: boolean;
  /** Reads one line (without the newline); '' at end of input. */
  readLine(): Promise<string>;
  /** Reads everything until end of input. */
  readAll(): Promise<Buffer>;
}

/** Exit codes, documented in the README and in `sealpost --help`. */
export const EXIT = {
  OK: 0,
  /** The command ran and found a problem (verification failed, records refused, ...). */
  FAILED: 1,
  /** Bad usage, bad input or bad configuration: fix the command or the config. */
  USAGE: 2,
  /** A service (Kafka, registry, OpenBao) is unreachable: retry when it is back. */
  UNAVAILABLE: 3,
} as const;

/** Renders rows as an aligned text table (the default output) with a header line. */
export function formatTable(
  rows: readonly Record<string, unknown>[],
  columns?: readonly string[],
): string {
  if (rows.length === 0) return '(none)\n';
  const cols = columns ?? Object.keys(rows[0]!);
  const cell = (v: unknown): string => {
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
      return v.toString();
    return JSON.stringify(v);
  };
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return (
    [
      line(cols.map((c) => c.toUpperCase())),
      ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
    ].join('\n') + '\n'
  );
}

/** Renders a value as JSON for scripts (`--json`). */
export function formatJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n'
  );
}
