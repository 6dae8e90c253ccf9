/**
 * A local append-only outbox of metadata events not yet acknowledged by the broker, so that events
 * queued in memory survive the process (docs/OPERATIONS.md, audit events). One event per line (its
 * canonical JSON, src/events/metadata-event.ts), appended with one write each: a process that dies,
 * even by SIGKILL, leaves what it wrote in the file (the kernel has it); `fsync` makes it survive a
 * power loss too — at most `syncIntervalMs` (default 100 ms) later, or on every append with 0 (about
 * 40 times the cost: docs/OPERATIONS.md gives the measured numbers).
 *
 * On open, the events in the file are read back (a torn last line is ignored) and the file is
 * rewritten with exactly those: the emitter queues them again (their eventIds make a resend
 * idempotent in the audit log). After each acknowledged batch the emitter passes what is still
 * unsent: an empty remainder truncates the file; otherwise, once the file holds more acknowledged
 * lines than unsent ones (and at least 1,000), it is rewritten with the unsent ones. The file thus
 * stays bounded by the emitter's queue bound (events the emitter drops are never written).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { canonicalEventBytes, type MetadataEvent } from '../events/metadata-event.js';
import { invalidArgument } from '../errors.js';
import { PipelineError } from './pipeline-error.js';

/** Options of {@link EventOutbox.open}. */
export interface EventOutboxOptions {
  /** fsync after every append (0) or at most this many ms later. Default 100. */
  readonly syncIntervalMs?: number;
}

const NEWLINE = 0x0a;

function encodeLines(events: readonly MetadataEvent[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const e of events) {
    parts.push(canonicalEventBytes(e));
    parts.push(Uint8Array.of(NEWLINE));
  }
  return Buffer.concat(parts);
}

/** See the module comment. Synchronous I/O: each call is one small write (plus an fsync). */
export class EventOutbox {
  readonly #path: string;
  readonly #syncIntervalMs: number;
  #fd: number;
  /** Lines in the file (acknowledged or not). */
  #lines: number;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(path: string, fd: number, lines: number, syncIntervalMs: number) {
    this.#path = path;
    this.#fd = fd;
    this.#lines = lines;
    this.#syncIntervalMs = syncIntervalMs;
  }

  /** Opens (creating) the outbox at `path`; returns it and the events it held, oldest first. */
  static open(
    path: string,
    options: EventOutboxOptions = {},
  ): { outbox: EventOutbox; replayed: MetadataEvent[]; unreadable: number } {
    const syncIntervalMs = options.syncIntervalMs ?? 100;
    if (!Number.isInteger(syncIntervalMs) || syncIntervalMs < 0)
      throw invalidArgument('outbox syncIntervalMs must be an integer ≥ 0');
    const replayed: MetadataEvent[] = [];
    let unreadable = 0;
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      for (const line of text.split('\n')) {
        if (line.length === 0) continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          unreadable++; // a line torn by a crash mid-write
          continue;
        }
        // Sent as written: the audit worker validates (and dead-letters) what it receives.
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          unreadable++;
          continue;
        }
        replayed.push(value as MetadataEvent);
      }
    }
    EventOutbox.#rewrite(path, replayed);
    const fd = openSync(path, 'a', 0o600);
    return {
      outbox: new EventOutbox(path, fd, replayed.length, syncIntervalMs),
      replayed,
      unreadable,
    };
  }

  /** Writes `events` to a temporary file, fsyncs it and renames it over `path`. */
  static #rewrite(path: string, events: readonly MetadataEvent[]): void {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const bytes = encodeLines(events);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  /** Appends one event (one write), fsync'd now or within `syncIntervalMs`. */
  append(event: MetadataEvent): void {
    this.#assertOpen();
    const bytes = encodeLines([event]);
    let off = 0;
    while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off);
    this.#lines++;
    if (this.#syncIntervalMs === 0) {
      fsyncSync(this.#fd);
      return;
    }
    this.#dirty = true;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#closed) this.sync();
      }, this.#syncIntervalMs);
      this.#timer.unref();
    }
  }

  /** fsyncs what was appended since the last sync. */
  sync(): void {
    if (!this.#dirty || this.#closed) return;
    fsyncSync(this.#fd);
    this.#dirty = false;
  }

  /** After an acknowledged batch: `unsent` is every event still queued (oldest first). */
  acknowledged(unsent: readonly MetadataEvent[]): void {
    this.#assertOpen();
    if (unsent.length === 0) {
      ftruncateSync(this.#fd, 0);
      fsyncSync(this.#fd);
      this.#lines = 0;
      this.#dirty = false;
      return;
    }
    const acknowledged = this.#lines - unsent.length;
    if (acknowledged < 1000 || acknowledged < unsent.length) return;
    this.sync();
    closeSync(this.#fd);
    EventOutbox.#rewrite(this.#path, unsent);
    this.#fd = openSync(this.#path, 'a', 0o600);
    this.#lines = unsent.length;
  }

  /** Syncs and closes the file (what is still in it is replayed by the next open). Idempotent. */
  close(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.sync();
    this.#closed = true;
    closeSync(this.#fd);
  }

  #assertOpen(): void {
    if (this.#closed) throw new PipelineError('PIPELINE_CLOSED', 'the event outbox is closed');
  }
}
