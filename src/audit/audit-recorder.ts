import type { CryptoProvider } from '../crypto/provider.js';
import type { MetadataEvent } from '../events/metadata-event.js';
import type { Clock } from '../runtime/clock.js';
import { signCheckpoint, type AuditCheckpoint } from './audit-checkpoint.js';
import type { AuditStore } from './audit-store.js';

/**
 * Sends a signed checkpoint somewhere outside the store (the checkpoint topic), with the same tree
 * size as a C2SP tlog-checkpoint note when the recorder has a `tlog` (docs/AUDIT.md).
 */
export interface CheckpointPublisher {
  publish(checkpoint: AuditCheckpoint, note?: string): Promise<void>;
}

export interface AuditSigner {
  readonly kid: Uint8Array;
  /** Ed25519 secret key (64 bytes); owned by the identity, zeroed when it closes. */
  readonly secretKey: Uint8Array;
}

export interface AuditRecorderOptions {
  readonly store: AuditStore;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly signer: AuditSigner;
  readonly publisher: CheckpointPublisher;
  /** Sign a checkpoint at least every this many entries (default 1,000). */
  readonly checkpointEveryEntries?: number;
  /** ... and at least every this many milliseconds when entries arrived (default 60,000). */
  readonly checkpointEveryMs?: number;
  /** Signs a C2SP checkpoint note of the first `size` entries, published beside each checkpoint. */
  readonly tlog?: { checkpointAt(size: number): Promise<string> } | undefined;
  /**
   * Called when an append found entries it did not write (another member wrote to the same log, e.g.
   * its previous owner finishing a batch during a rebalance): the recorder has re-read the log's
   * newest stored checkpoint before going on (docs/AUDIT.md, "Running N audit workers").
   */
  readonly onForeignAppend?: ((info: { expected: number; found: number }) => void) | undefined;
}

/**
 * Appends metadata events to the audit store and keeps signed checkpoints coming: after every
 * `checkpointEveryEntries` new entries, and on `tick()` when `checkpointEveryMs` has passed since the
 * last checkpoint and the log has grown. A checkpoint is stored, then published; a publish that fails
 * is retried on the next call (the error propagates so the caller does not commit offsets past it).
 */
export class AuditRecorder {
  readonly #o: Required<Omit<AuditRecorderOptions, 'tlog' | 'onForeignAppend'>> &
    Pick<AuditRecorderOptions, 'tlog' | 'onForeignAppend'>;
  #lastCheckpointCount: number;
  #lastCheckpointMs: number;
  #unpublished: AuditCheckpoint | undefined;
  #unpublishedNote: { count: number; note: string } | undefined;
  #opened: Promise<void> | undefined;
  #turn: Promise<unknown> = Promise.resolve();
  #entryCount = 0;
  /** The log's size after this recorder's last append (undefined before the first). */
  #knownCount: number | undefined;

  constructor(options: AuditRecorderOptions) {
    this.#o = { checkpointEveryEntries: 1000, checkpointEveryMs: 60_000, ...options };
    if (this.#o.checkpointEveryEntries < 1 || this.#o.checkpointEveryMs < 1) {
      throw new RangeError('checkpoint intervals must be positive');
    }
    this.#lastCheckpointCount = 0;
    this.#lastCheckpointMs = this.#o.clock.nowMs();
  }

  /**
   * Reads the newest stored checkpoint (once; the other calls do it first when it has not been done).
   * A crash between storing a checkpoint and publishing it would leave it unpublished forever:
   * the newest stored one is published again (a duplicate on the topic is harmless).
   */
  open(): Promise<void> {
    this.#opened ??= (async () => {
      const last = (await this.#o.store.checkpoints()).at(-1);
      this.#lastCheckpointCount = last?.count ?? 0;
      this.#lastCheckpointMs = last?.timeMs ?? this.#lastCheckpointMs;
      this.#unpublished = last;
      this.#entryCount = (await this.#o.store.head()).count;
    })().catch((err: unknown) => {
      this.#opened = undefined; // a store briefly unavailable: the next call reads it again
      throw err;
    });
    return this.#opened;
  }

  /**
   * Runs `fn` after every earlier call of record/tick/checkpointNow has finished: the store is read
   * and written across awaits, and two checkpoints of one head must not be signed side by side.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  /** Appends a batch (redelivered events are skipped); returns how many entries were new. */
  record(events: readonly MetadataEvent[]): Promise<number> {
    return this.#exclusive(() => this.#record(events));
  }

  async #record(events: readonly MetadataEvent[]): Promise<number> {
    await this.open();
    await this.#flushUnpublished();
    let appended = 0;
    let rest = events;
    // Append in chunks that end where a checkpoint is due, so checkpoints land exactly every
    // `checkpointEveryEntries` entries whatever the batch sizes. (A crash between chunks is harmless:
    // redelivered events already in the log are skipped by eventId.)
    while (rest.length > 0) {
      const room =
        this.#o.checkpointEveryEntries - ((await this.#head()).count - this.#lastCheckpointCount);
      const chunk = rest.slice(0, Math.max(1, room));
      rest = rest.slice(chunk.length);
      // Fencing check: the store orders appends (one transaction re-reads its head), so a log never
      // forks; but when it grew by more than this append, another writer was here since our last
      // append and our view of its checkpoints is stale: re-read it before deciding on the next.
      const expected = this.#knownCount ?? (await this.#head()).count;
      const added = await this.#o.store.append(chunk);
      appended += added;
      const after = (await this.#head()).count;
      if (after - added !== expected) await this.#resync(expected, after - added);
      this.#knownCount = after;
      if (
        (await this.#head()).count - this.#lastCheckpointCount >=
        this.#o.checkpointEveryEntries
      ) {
        await this.#checkpointNow();
      }
    }
    return appended;
  }

  /** Called on a timer: checkpoints when the interval has passed and the log has grown. */
  tick(): Promise<AuditCheckpoint | null> {
    return this.#exclusive(() => this.#tick());
  }

  async #tick(): Promise<AuditCheckpoint | null> {
    await this.open();
    await this.#flushUnpublished();
    const due = this.#o.clock.nowMs() - this.#lastCheckpointMs >= this.#o.checkpointEveryMs;
    if (due && (await this.#head()).count > this.#lastCheckpointCount) return this.#checkpointNow();
    return null;
  }

  /** Signs, stores and publishes a checkpoint of the current head. */
  checkpointNow(): Promise<AuditCheckpoint> {
    return this.#exclusive(() => this.#checkpointNow());
  }

  async #checkpointNow(): Promise<AuditCheckpoint> {
    await this.open();
    const head = await this.#head();
    // Fencing rule (docs/AUDIT.md, "Running N audit workers"): never sign a head smaller than a
    // checkpoint already stored for this log — another member (its partition's owner now) is ahead,
    // and this recorder's view of the log is stale. Its newest checkpoint stands instead.
    const stored = (await this.#o.store.checkpoints()).at(-1);
    if (stored !== undefined && stored.count > head.count) {
      this.#lastCheckpointCount = Math.max(this.#lastCheckpointCount, stored.count);
      return stored;
    }
    const now = this.#o.clock.nowMs();
    const c = signCheckpoint(
      this.#o.crypto,
      head.count,
      head.headHash,
      now,
      this.#o.signer.kid,
      this.#o.signer.secretKey,
    );
    await this.#o.store.addCheckpoint(c);
    this.#lastCheckpointCount = head.count;
    this.#lastCheckpointMs = now;
    this.#unpublished = c;
    const note = await this.#o.tlog?.checkpointAt(head.count);
    this.#unpublishedNote = note === undefined ? undefined : { count: head.count, note };
    await this.#flushUnpublished();
    return c;
  }

  async #resync(expected: number, found: number): Promise<void> {
    const stored = (await this.#o.store.checkpoints()).at(-1);
    if (stored !== undefined && stored.count > this.#lastCheckpointCount) {
      this.#lastCheckpointCount = stored.count;
      this.#lastCheckpointMs = Math.max(this.#lastCheckpointMs, stored.timeMs);
    }
    this.#o.onForeignAppend?.({ expected, found });
  }

  /** The count covered by the newest checkpoint. */
  get lastCheckpointCount(): number {
    return this.#lastCheckpointCount;
  }

  get lastCheckpointMs(): number {
    return this.#lastCheckpointMs;
  }

  /** The entry count of the store when the recorder last read its head (for health and gauges). */
  get entryCount(): number {
    return this.#entryCount;
  }

  async #head(): Promise<{ count: number; headHash: Uint8Array }> {
    const head = await this.#o.store.head();
    this.#entryCount = head.count;
    return head;
  }

  async #noteFor(c: AuditCheckpoint): Promise<string | undefined> {
    if (this.#o.tlog === undefined) return undefined;
    const kept = this.#unpublishedNote;
    return kept !== undefined && kept.count === c.count
      ? kept.note
      : await this.#o.tlog.checkpointAt(c.count);
  }

  async #flushUnpublished(): Promise<void> {
    const c = this.#unpublished;
    if (!c) return;
    // The note is signed again for a checkpoint stored before a restart (Ed25519 is deterministic:
    // the same text and key give the same note).
    await this.#o.publisher.publish(c, await this.#noteFor(c));
    if (this.#unpublished === c) this.#unpublished = undefined;
  }
}
