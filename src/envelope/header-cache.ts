/**
 * The header cache (docs/SPEC.md §5 step 4): `hh = H(L(header-bytes) ‖ header)` → an opened session
 * (positive) or the code it was rejected with (negative), each an LRU of bounded size. Sessions of
 * one message stay out of the positive LRU (they would only evict useful entries). The cache owns the
 * sessions it holds: eviction and clear() close them (zeroing their keys).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { EnvelopeErrorCode } from './errors.js';
import { LABELS } from './labels.js';
import type { OpenedSession } from './opened-session.js';

/** A positive entry: the session and the directory epoch it was checked under. */
export interface CachedSession {
  readonly session: OpenedSession;
  epoch: number;
}

/**
 * Header rejections that depend only on the header bytes and our keys (or on time only moving
 * forward), so repeating them is pointless. UNKNOWN_SENDER (a refresh may help) and
 * HEADER_FROM_FUTURE (time heals it) are never cached.
 */
const CACHEABLE: ReadonlySet<EnvelopeErrorCode> = new Set<EnvelopeErrorCode>([
  'BOX_OPEN_FAILED',
  'COMMITMENT_MISMATCH',
  'PRIVATE_OPEN_FAILED',
  'BAD_FLAGS',
  'BAD_HEADER_TIMES',
  'BAD_SESSION_LIMITS',
  'BAD_HEADER_SIGNATURE',
  'HEADER_EXPIRED',
  'SENDER_REVOKED',
  'SENDER_RETIRED',
]);

/** True when a header rejection with this code may go into the negative cache. */
export function isCacheableRejection(code: EnvelopeErrorCode): boolean {
  return CACHEABLE.has(code);
}

export interface HeaderCacheOptions {
  readonly provider: CryptoProvider;
  /** Positive entries (open sessions). */
  readonly maxSessions: number;
  /** Negative entries (rejected headers). */
  readonly maxRejected: number;
}

export class HeaderCache {
  readonly #provider: CryptoProvider;
  readonly #maxSessions: number;
  readonly #maxRejected: number;
  readonly #sessions = new Map<string, CachedSession>();
  readonly #rejected = new Map<string, EnvelopeErrorCode>();
  /** The most recently used session key: re-touching it in the LRU is skipped. */
  #mru = '';
  #input = new Uint8Array(LABELS.headerBytes.length + 1024);
  readonly #hh = new Uint8Array(32);

  constructor(opts: HeaderCacheOptions) {
    this.#provider = opts.provider;
    this.#maxSessions = Math.max(0, Math.floor(opts.maxSessions));
    this.#maxRejected = Math.max(0, Math.floor(opts.maxRejected));
    this.#input.set(LABELS.headerBytes, 0);
  }

  /** The cache key of a header: base64 of hh = H(L(header-bytes) ‖ headerBytes). */
  keyOf(headerBytes: Uint8Array): string {
    const lb = LABELS.headerBytes.length;
    if (lb + headerBytes.length > this.#input.length) {
      this.#input = new Uint8Array(lb + headerBytes.length);
      this.#input.set(LABELS.headerBytes, 0);
    }
    this.#input.set(headerBytes, lb);
    this.#provider.hash(this.#hh, this.#input.subarray(0, lb + headerBytes.length));
    return Buffer.from(this.#hh.buffer, this.#hh.byteOffset, 32).toString('base64');
  }

  /** The cached session for `hh` (refreshed as most recently used), if any. */
  getSession(hh: string): CachedSession | undefined {
    const e = this.#sessions.get(hh);
    if (e === undefined) return undefined;
    if (e.session.closed) {
      this.#sessions.delete(hh);
      return undefined;
    }
    if (hh !== this.#mru) {
      this.#sessions.delete(hh);
      this.#sessions.set(hh, e);
      this.#mru = hh;
    }
    return e;
  }

  /** The code a header was rejected with, if cached. */
  getRejected(hh: string): EnvelopeErrorCode | undefined {
    return this.#rejected.get(hh);
  }

  /** Caches an opened session unless it is a one-message session (returns whether it was cached). */
  putSession(hh: string, session: OpenedSession, epoch: number): boolean {
    if (session.maxMessages <= 1 || this.#maxSessions === 0) return false;
    const old = this.#sessions.get(hh);
    if (old !== undefined && old.session !== session) old.session.close();
    this.#sessions.delete(hh);
    this.#sessions.set(hh, { session, epoch });
    this.#mru = hh;
    while (this.#sessions.size > this.#maxSessions) {
      const [k, v] = this.#sessions.entries().next().value as [string, CachedSession];
      this.#sessions.delete(k);
      v.session.close();
    }
    return true;
  }

  /** Caches a header rejection if its code is cacheable. */
  putRejected(hh: string, code: EnvelopeErrorCode): void {
    if (!isCacheableRejection(code) || this.#maxRejected === 0) return;
    this.#rejected.delete(hh);
    this.#rejected.set(hh, code);
    while (this.#rejected.size > this.#maxRejected) {
      const first = this.#rejected.keys().next().value as string;
      this.#rejected.delete(first);
    }
  }

  /** Drops (and closes) a cached session. */
  deleteSession(hh: string): void {
    const e = this.#sessions.get(hh);
    if (e === undefined) return;
    this.#sessions.delete(hh);
    e.session.close();
  }

  get size(): { sessions: number; rejected: number } {
    return { sessions: this.#sessions.size, rejected: this.#rejected.size };
  }

  /** Closes every cached session and empties both LRUs. */
  clear(): void {
    for (const e of this.#sessions.values()) e.session.close();
    this.#sessions.clear();
    this.#rejected.clear();
  }
}
