import type { CryptoProvider } from '../../crypto/provider.js';
import type { Clock } from '../../runtime/clock.js';
import { computeKid } from '../kid.js';
import { DirectoryError } from './directory-error.js';
import type { DirectoryFollowing, DirectorySource } from './directory-document.js';
import { isFollowable } from './directory-document.js';
import type { DirectoryHead, DirectoryRecord, DirectoryStatus } from './directory-record.js';
import { HEAD_KEY, topicMatches } from './directory-record.js';
import type {
  DirectorySnapshot,
  RawDirectorySnapshot,
  RefusedEntry,
} from './directory-snapshot.js';
import { validateSnapshot } from './directory-snapshot.js';
import type { DirectoryStateStore } from './directory-state.js';
import { isNewerHead, verifyStateHead } from './directory-state.js';

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
  /** X25519 public key (or, for a key found by its X-Wing kid with `recipientKey`, the X-Wing key). */
  readonly publicKey: Uint8Array;
  readonly status: DirectoryStatus;
  readonly validFromMs: number;
  readonly validUntilMs: number;
  readonly receiveTopics: readonly string[];
  /** The same record's X-Wing key (suite 2), when it publishes one. */
  readonly kem?: RecipientKemKey;
}

/** An X-Wing public key (1,216 bytes) and its kid, as published in a directory record. */
export interface RecipientKemKey {
  readonly kid: Uint8Array;
  readonly publicKey: Uint8Array;
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
  /**
   * Where the newest accepted head is kept across restarts (e.g. FileDirectoryStateStore): after a
   * restart an older signed directory is refused (DIRECTORY_ROLLBACK). Without it a restarted service
   * accepts any unexpired head (docs/OPERATIONS.md "Directory state").
   */
  readonly state?: DirectoryStateStore;
  /** Called when a directory is refused as a rollback or equivocation, or the state cannot be saved. */
  readonly onAlert?: (alert: DirectoryAlert) => void;
}

/** Something an operator must look at: a directory older than (or contradicting) one already accepted. */
export interface DirectoryAlert {
  readonly code: 'DIRECTORY_ROLLBACK' | 'DIRECTORY_EQUIVOCATION' | 'DIRECTORY_STATE_UNWRITABLE';
  readonly message: string;
  /** Epoch of the newest head accepted (held now, or saved before the restart). */
  readonly heldEpoch: number | undefined;
  /** Epoch of the head offered by the source, when it could be read. */
  readonly offeredEpoch: number | undefined;
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
  /** The newest head accepted before this process started (from the state store). */
  #floor: DirectoryHead | undefined;
  /** Snapshots are validated and adopted one at a time (refreshes and pushes may overlap). */
  #applying: Promise<unknown> = Promise.resolve();
  /** The source's follower while auto-refresh runs on a source that can push (the directory topic). */
  #following: DirectoryFollowing | undefined;
  #stoppingFollower: Promise<void> = Promise.resolve();
  /** The error handler given to startAutoRefresh (state-save failures are reported there too). */
  #reportError: ((err: unknown) => void) | undefined;

  private constructor(options: KeyDirectoryOptions) {
    this.#options = options;
  }

  /**
   * Loads the saved state (if a store is given) and the directory once; throws DirectoryError if it
   * cannot be trusted — DIRECTORY_ROLLBACK when the source serves a directory older than the saved one,
   * DIRECTORY_STATE_INVALID / DIRECTORY_STATE_UNWRITABLE when the state cannot be used.
   */
  static async open(options: KeyDirectoryOptions): Promise<KeyDirectory> {
    const d = new KeyDirectory(options);
    if (options.state !== undefined) {
      const saved = await options.state.load();
      if (saved !== undefined)
        d.#floor = verifyStateHead(
          options.crypto,
          options.authorityPublicKey,
          computeKid(options.crypto, 'ed25519', options.authorityPublicKey),
          saved,
        );
    }
    await d.refresh();
    // A state that cannot be written is a misconfiguration: found at start, not at the first change.
    await d.#saveState(true);
    return d;
  }

  /**
   * Re-reads the source and validates it against the snapshot held and the saved state (no rollback).
   * On success the new snapshot replaces the old one, the head is saved, and then listeners hear the
   * epoch if it changed. Returns the epoch.
   */
  async refresh(): Promise<number> {
    const heldAtRead = this.#snapshot;
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
    return this.#enqueue(raw, heldAtRead);
  }

  /**
   * Validates and adopts a snapshot read elsewhere (what a following source pushes): the same checks
   * as `refresh`. Calls are serialized. Returns the epoch held afterwards.
   */
  apply(raw: RawDirectorySnapshot): Promise<number> {
    return this.#enqueue(raw, this.#snapshot);
  }

  #enqueue(raw: RawDirectorySnapshot, heldAtRead: DirectorySnapshot | undefined): Promise<number> {
    const run = this.#applying.then(() => this.#apply(raw, heldAtRead));
    this.#applying = run.catch(() => undefined);
    return run;
  }

  /**
   * `heldAtRead`: the snapshot held when `raw` was read. A read that was overtaken — a newer version
   * adopted from the follower while a slower re-read was under way — is not a rollback: it is dropped
   * when it is not older than what was held when it began.
   */
  async #apply(
    raw: RawDirectorySnapshot,
    heldAtRead: DirectorySnapshot | undefined,
  ): Promise<number> {
    let next: DirectorySnapshot;
    try {
      next = this.#validate(raw, this.#snapshot, this.#floor);
    } catch (err) {
      if (err instanceof DirectoryError && err.code === 'DIRECTORY_ROLLBACK') {
        if (
          this.#snapshot !== undefined &&
          heldAtRead !== undefined &&
          heldAtRead !== this.#snapshot &&
          this.#notOlder(raw, heldAtRead)
        )
          return this.#snapshot.head.epoch;
      }
      if (
        err instanceof DirectoryError &&
        (err.code === 'DIRECTORY_ROLLBACK' || err.code === 'DIRECTORY_EQUIVOCATION')
      )
        this.#alert(err.code, err.message, offeredEpoch(raw));
      throw err;
    }
    if (next.refused.length > 0) this.#options.onRefused?.(next.refused);
    const before = this.#snapshot?.head.epoch;
    this.#snapshot = next;
    // Saved before listeners hear it: a listener told of epoch N finds N in the saved state.
    await this.#saveState(false);
    if (before !== next.head.epoch) for (const l of this.#listeners) l(next.head.epoch);
    return next.head.epoch;
  }

  #validate(
    raw: RawDirectorySnapshot,
    previous: DirectorySnapshot | undefined,
    floor: DirectoryHead | undefined,
  ): DirectorySnapshot {
    return validateSnapshot(raw, {
      crypto: this.#options.crypto,
      authorityPublicKey: this.#options.authorityPublicKey,
      nowMs: this.#options.clock.nowMs(),
      ...(this.#options.skewMs === undefined ? {} : { skewMs: this.#options.skewMs }),
      previous,
      floor,
    });
  }

  /** True when `raw` validates against the snapshot held when it was read (an overtaken read). */
  #notOlder(raw: RawDirectorySnapshot, heldAtRead: DirectorySnapshot | undefined): boolean {
    try {
      // The floor then was at most heldAtRead's head (it moves only to heads adopted since).
      this.#validate(raw, heldAtRead, undefined);
      return true;
    } catch {
      return false;
    }
  }

  /** Saves the held head when it is newer than the saved one; at start a failure throws, later it alerts. */
  async #saveState(throwOnFailure: boolean): Promise<void> {
    const store = this.#options.state;
    const snapshot = this.#snapshot;
    if (store === undefined || snapshot === undefined) return;
    if (this.#floor !== undefined && !isNewerHead(snapshot.head, this.#floor)) return;
    try {
      await store.save(
        { head: snapshot.head, signature: snapshot.headSignature },
        snapshot.head.authorityKid,
      );
      this.#floor = snapshot.head;
    } catch (err) {
      if (throwOnFailure) throw err;
      this.#alert(
        'DIRECTORY_STATE_UNWRITABLE',
        err instanceof Error ? err.message : 'the directory state could not be saved',
        snapshot.head.epoch,
      );
      // The snapshot is adopted all the same; the failure also reaches the auto-refresh error handler.
      this.#reportError?.(err);
    }
  }

  #alert(code: DirectoryAlert['code'], message: string, offered: number | undefined): void {
    this.#options.onAlert?.({
      code,
      message,
      heldEpoch: this.#snapshot?.head.epoch ?? this.#floor?.epoch,
      offeredEpoch: offered,
    });
  }

  /**
   * Keeps the directory current: re-reads the source every `intervalMs` (unref'd timer) and, when the
   * source can push (the directory topic), follows it — each published head is validated and adopted
   * as soon as it is read, so a revocation reaches the service within the bound docs/OPERATIONS.md
   * states ("Revocation"), not at the next poll. Errors go to `onError`; the snapshot held stays.
   */
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
    this.#reportError = onError;
    const source = this.#options.source;
    if (isFollowable(source)) {
      this.#following = source.follow({
        onSnapshot: (raw) => {
          this.apply(raw).catch(onError);
        },
        onError,
      });
    }
  }

  /**
   * Resolves true once the follower has read the directory topic to its end (pushes flow from then on),
   * false when auto-refresh is not running or the source cannot push (a file: polling only).
   */
  async whenFollowing(): Promise<boolean> {
    const following = this.#following;
    if (following === undefined) return false;
    await following.caughtUp;
    return true;
  }

  /** Stops the timer and the follower (the follower's disconnect finishes in the background; `close` waits for it). */
  stopAutoRefresh(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const following = this.#following;
    this.#following = undefined;
    if (following !== undefined)
      this.#stoppingFollower = this.#stoppingFollower
        .then(() => following.stop())
        .catch(() => undefined);
  }

  /** Stops refreshing and following, and waits for a snapshot being adopted (and its state save). */
  async close(): Promise<void> {
    this.stopAutoRefresh();
    await this.#stoppingFollower;
    await this.#applying;
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

  /**
   * The directory entry of a recipient kid (any status): an X25519 kid, or an X-Wing kid (suite 2),
   * in which case `kid` and `publicKey` are the X-Wing ones.
   */
  recipientKey(kid: Uint8Array): RecipientKey | undefined {
    const snapshot = this.snapshot();
    const r = snapshot.byBoxKid(kid);
    if (r !== undefined) return toRecipientKey(r);
    const k = snapshot.byKemKid(kid);
    if (k === undefined || k.kemKid === undefined || k.kemPublicKey === undefined) return undefined;
    return { ...toRecipientKey(k), kid: k.kemKid, publicKey: k.kemPublicKey };
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

/** The epoch of the last head entry of a raw snapshot, when it has a numeric one (for alerts). */
function offeredEpoch(raw: RawDirectorySnapshot): number | undefined {
  const head = raw.entries.filter((e) => e.key === HEAD_KEY).at(-1)?.value as
    { epoch?: unknown } | null | undefined;
  return typeof head?.epoch === 'number' ? head.epoch : undefined;
}

/** The record's box key as a RecipientKey, with its X-Wing key when it has one. */
export function toRecipientKey(r: DirectoryRecord): RecipientKey {
  return {
    identity: r.identity,
    kid: r.boxKid,
    publicKey: r.boxPublicKey,
    status: r.status,
    validFromMs: r.validFromMs,
    validUntilMs: r.validUntilMs,
    receiveTopics: r.receiveTopics,
    ...(r.kemKid === undefined || r.kemPublicKey === undefined
      ? {}
      : { kem: { kid: r.kemKid, publicKey: r.kemPublicKey } }),
  };
}
