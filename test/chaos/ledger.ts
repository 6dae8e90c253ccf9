/**
 * The delivery ledger of a chaos scenario (issue #15): append-only JSON lines, each written with one
 * write() and fsync()ed before the writer goes on, so what a process recorded survives its SIGKILL.
 *
 * - producer: `try` (payload ids about to be sent, before the send), `ack` (one per acknowledged
 *   message: message id, payload id, partition, offset), `fail` (a SEND_FAILED: its ids and code);
 * - consumer (one file per process): `out` (one per hand-out: group, member, message id, payload id,
 *   partition, offset, redelivery flag);
 * - runner: `dead` (a dead letter of a group: partition, offset, class), `commit` (a group's committed
 *   offset of a partition, read at the end), `copy` (a record at an offset no ack names whose bytes
 *   are those of an acknowledged message: a copy an earlier attempt of the same send wrote, read
 *   from the topic at the end).
 *
 * Ledgers never hold payloads, keys or plaintext beyond the test's own payload ids.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface TryEntry {
  readonly k: 'try';
  readonly n: readonly string[];
  readonly t: number;
}
export interface AckEntry {
  readonly k: 'ack';
  readonly id: string;
  /** The payload id, when known (send() answers grouped by partition, so the producer omits it). */
  readonly n?: string;
  readonly p: number;
  readonly o: string;
  readonly t: number;
}
export interface FailEntry {
  readonly k: 'fail';
  readonly ids: readonly string[];
  readonly code: string;
  readonly t: number;
}
export interface HandoutEntry {
  readonly k: 'out';
  readonly g: string;
  readonly m: string;
  readonly id: string;
  readonly n: string;
  readonly p: number;
  readonly o: string;
  readonly r: boolean;
  readonly t: number;
}
export interface DeadEntry {
  readonly k: 'dead';
  readonly g: string;
  readonly p: number;
  readonly o: string;
  readonly c: string;
  readonly t: number;
}
export interface CommitEntry {
  readonly k: 'commit';
  readonly g: string;
  readonly p: number;
  /** The committed offset: the next record to read (records below it are done). */
  readonly o: string;
  readonly t: number;
}

export interface CopyEntry {
  readonly k: 'copy';
  /** The acknowledged message whose sealed bytes the record at (p, o) repeats. */
  readonly id: string;
  readonly p: number;
  readonly o: string;
  readonly t: number;
}

export type LedgerEntry =
  TryEntry | AckEntry | FailEntry | HandoutEntry | DeadEntry | CommitEntry | CopyEntry;

/** Appends entries to one ledger file, each durably (write + fsync) before returning. */
export class LedgerWriter {
  readonly #fd: number;

  constructor(readonly path: string) {
    this.#fd = openSync(path, 'a', 0o600);
  }

  /** Appends entries as one write, then fsyncs. */
  append(...entries: readonly LedgerEntry[]): void {
    if (entries.length === 0) return;
    writeSync(this.#fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    fsyncSync(this.#fd);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Everything a scenario's ledgers recorded, in file order per file. */
export interface Ledger {
  readonly tries: TryEntry[];
  readonly acks: AckEntry[];
  readonly fails: FailEntry[];
  readonly handouts: HandoutEntry[];
  readonly dead: DeadEntry[];
  readonly commits: CommitEntry[];
  readonly copies: CopyEntry[];
}

export function emptyLedger(): Ledger {
  return { tries: [], acks: [], fails: [], handouts: [], dead: [], commits: [], copies: [] };
}

/**
 * Reads every `*.ledger` file of a folder. A last line cut by a kill (no newline, bad JSON) is ignored:
 * its entry was not durable yet, so its writer had not gone on.
 */
export function readLedgers(dir: string): Ledger {
  const ledger = emptyLedger();
  if (!existsSync(dir)) return ledger;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.ledger'))
    .sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    const lines = text.split('\n');
    if (!text.endsWith('\n')) lines.pop();
    for (const line of lines) {
      if (line === '') continue;
      let e: LedgerEntry;
      try {
        e = JSON.parse(line) as LedgerEntry;
      } catch {
        continue;
      }
      addEntry(ledger, e);
    }
  }
  return ledger;
}

export function addEntry(ledger: Ledger, e: LedgerEntry): void {
  switch (e.k) {
    case 'try':
      ledger.tries.push(e);
      break;
    case 'ack':
      ledger.acks.push(e);
      break;
    case 'fail':
      ledger.fails.push(e);
      break;
    case 'out':
      ledger.handouts.push(e);
      break;
    case 'dead':
      ledger.dead.push(e);
      break;
    case 'commit':
      ledger.commits.push(e);
      break;
    case 'copy':
      ledger.copies.push(e);
      break;
  }
}
