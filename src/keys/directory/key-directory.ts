import type { CryptoProvider } from '../../crypto/provider.js';
import type { Clock } from '../../runtime/clock.js';
import { DirectoryError } from './directory-error.js';
import type { DirectorySource } from './directory-document.js';
import type { DirectoryHead, DirectoryRecord, DirectoryStatus } from './directory-record.js';
import { topicMatches } from './directory-record.js';
import type { DirectorySnapshot, RefusedEntry } from './directory-snapshot.js';
import { validateSnapshot } from './directory-snapshot.js';

/** What the envelope needs to verify a sender: resolved from the session header's senderKid. */
export interface SenderKey {
  readonly identity: string;
  readonly kid: Uint8Array;
  /** Ed25519 public key (verify the header signature with this, never with the kid). */
  readonly publicKey: Uint8Array;
  readonly status: DirectoryStatus;
  readonly validFromMs: number;
  readonly validUntilMs: number;
  readonly retiredAtMs: number | null;
  /** Topic patterns it may send to (use topicMatches or the policy). */
  readonly sendTopics: readonly string[];
}

/** A recipient's box key as the producer seals to it. */
export interface RecipientKey {
  readonly identity: string;
  readonly kid: Uint8Array;
  /** X25519 public key. */
  readonly publicKey: Uint8Array;
  readonly status: DirectoryStatus;
  readonly validFromMs: number;
  readonly validUntilMs: number;
  readonly receiveTopics: readonly string[];
}

export interface KeyDirectoryOptions {
  readonly crypto: CryptoProvider;
  /** The pinned authority Ed25519 public key (32 bytes): the only trust anchor. */
  readonly authorityPublicKey: Uint8Array;
  readonly source: DirectorySource;
  readonly clock: Clock;
  /** Clock skew tolerated on issuedAt (default 60 000 ms). */
  readonly skewMs?: number;
  /** Called with entries refused during a refresh (forged records, tombstones, old serials). */
  readonly onRefused?: (refused: readonly RefusedEntry[]) => void;
}

/**
 * The service's view of the key directory: validated against the pinned authority key, refreshed from
 * a source (file or compacted topic) with the injected clock. A failed refresh keeps the snapshot held
 * so far (which expires with its head: then `assertFresh` refuses new sessions).
 *
 * Envelope-facing resolver: `namespace`, `epoch`, `assertFresh()`, `senderKey(kid)`,
 * `recipientKey(kid)`, `recipientKeysForIdentity(name)`. Policy decisions live in DirectoryPolicy.
 */
export class KeyDirectory {
  readonly #options: KeyDirectoryOptions;
  #snapshot: DirectorySnapshot | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #listeners = new Set<(epoch: number) => void>();

  private constructor(options: KeyDirectoryOptions) {
    this.#options = options;
  }

  /** Loads and validates the directory once; throws DirectoryError if it cannot be trusted. */
  static async open(options: KeyDirectoryOptions): Promise<KeyDirectory> {
    const d = new KeyDirectory(options);
    await d.refresh();
    return d;
  }

  /**
   * Re-reads the source and validates it against the snapshot held (no rollback). On success the new
   * snapshot replaces the old one and listeners hear the epoch if it changed. Returns the epoch.
   */
  async refresh(): Promise<number> {
    let raw;
    try {
      raw = await this.#options.source.readAll();
    } catch (err) {
      if (err instanceof DirectoryError) throw err;
      throw new DirectoryError(
        'DIRECTORY_SOURCE_UNAVAILABLE',
        'directory source could not be read',
        { cause: err },
      );
    }
    const next = validateSnapshot(raw, {
      crypto: this.#options.crypto,
      authorityPublicKey: this.#options.authorityPublicKey,
      nowMs: this.#options.clock.nowMs(),
      ...(this.#options.skewMs === undefined ? {} : { skewMs: this.#options.skewMs }),
      previous: this.#snapshot,
    });
    if (next.refused.length > 0) this.#options.onRefused?.(next.refused);
    const before = this.#snapshot?.head.epoch;
    this.#snapshot = next;
    if (before !== next.head.epoch) for (const l of this.#listeners) l(next.head.epoch);
    return next.head.epoch;
  }

  /** Refreshes every `intervalMs` (unref'd timer); errors go to `onError`, the old snapshot stays. */
  startAutoRefresh(intervalMs: number, onError: (err: unknown) => void): void {
    this.stopAutoRefresh();
    const tick = (): void => {
      this.refresh()
        .catch(onError)
        .finally(() => {
          if (this.#timer !== undefined) {
            this.#timer = setTimeout(tick, intervalMs);
            this.#timer.unref();
          }
        });
    };
    this.#timer = setTimeout(tick, intervalMs);
    this.#timer.unref();
  }

  stopAutoRefresh(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Subscribes to epoch changes (sessions touching changed keys must end). Returns an unsubscribe. */
  onEpochChange(listener: (epoch: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The validated snapshot (throws DIRECTORY_NOT_LOADED before the first successful refresh). */
  snapshot(): DirectorySnapshot {
    if (this.#snapshot === undefined)
      throw new DirectoryError('DIRECTORY_NOT_LOADED', 'the directory is not loaded');
    return this.#snapshot;
  }

  /** The authority's kid: the namespace bound into every envelope header. */
  get namespace(): Uint8Array {
    return this.snapshot().head.authorityKid;
  }

  get epoch(): number {
    return this.snapshot().head.epoch;
  }

  head(): DirectoryHead {
    return this.snapshot().head;
  }

  /** True while the head is unexpired by the injected clock. */
  isFresh(): boolean {
    return (
      this.#snapshot !== undefined && this.#options.clock.nowMs() < this.#snapshot.head.expiresAtMs
    );
  }

  /** Throws DIRECTORY_HEAD_EXPIRED unless the head is unexpired: call before opening or accepting a session. */
  assertFresh(): void {
    if (!this.isFresh())
      throw new DirectoryError(
        'DIRECTORY_HEAD_EXPIRED',
        'the directory head has expired; refresh it',
      );
  }

  records(): readonly DirectoryRecord[] {
    return this.snapshot().records;
  }

  /** The directory entry of an Ed25519 kid (any status; the caller/policy decides). */
  senderKey(signKid: Uint8Array): SenderKey | undefined {
    const r = this.snapshot().bySignKid(signKid);
    if (r === undefined) return undefined;
    return {
      identity: r.identity,
      kid: r.signKid,
      publicKey: r.signPublicKey,
      status: r.status,
      validFromMs: r.validFromMs,
      validUntilMs: r.validUntilMs,
      retiredAtMs: r.retiredAtMs,
      sendTopics: r.sendTopics,
    };
  }

  /** The directory entry of an X25519 kid (any status). */
  recipientKey(boxKid: Uint8Array): RecipientKey | undefined {
    const r = this.snapshot().byBoxKid(boxKid);
    return r === undefined ? undefined : toRecipientKey(r);
  }

  /** All box keys of an identity, newest serial first. */
  recipientKeysForIdentity(identity: string): RecipientKey[] {
    return this.snapshot()
      .records.filter((r) => r.identity === identity)
      .sort((a, b) => b.serial - a.serial)
      .map(toRecipientKey);
  }

  /** True if the identity's record for `topic` allows receiving. */
  static receives(r: RecipientKey, topic: string): boolean {
    return topicMatches(r.receiveTopics, topic);
  }
}

function toRecipientKey(r: DirectoryRecord): RecipientKey {
  return {
    identity: r.identity,
    kid: r.boxKid,
    publicKey: r.boxPublicKey,
    status: r.status,
    validFromMs: r.validFromMs,
    validUntilMs: r.validUntilMs,
    receiveTopics: r.receiveTopics,
  };
}
