/**
 * The anti-replay window for one (senderKid, streamId, topic, partition): the highest accepted seq, a
 * 1024-bit bitmap of the seqs below it, and when it was last used (docs/SPEC.md §Replay).
 *
 * check() is a pure pre-check; mark() is called by the pipeline only after the handler succeeded, so a
 * record redelivered before it was marked (same offset, after a crash) is accepted again, while the
 * same seq presented after it was marked is DUPLICATE, whatever its offset.
 */
import { isU53, readU64, writeU64 } from './bytes.js';
import { invalidArgument } from '../errors.js';
import { EnvelopeUsageError } from './errors.js';

/** Window width in sequence numbers. */
export const REPLAY_WINDOW_BITS = 1024;
const WORDS = REPLAY_WINDOW_BITS / 32;
const STATE_VERSION = 1;
const FLAG_SHRUNK = 0x01;
const HEAD_BYTES = 1 + 1 + 8 + 8;
const BITMAP_BYTES = REPLAY_WINDOW_BITS / 8;

/** Outcome of a replay pre-check. */
export type ReplayVerdict = 'fresh' | 'duplicate' | 'stale';

/** The map key of a window, stable text: `hex(senderKid).hex(streamId).topic.partition`. */
export function replayKeyOf(
  senderKid: Uint8Array,
  streamId: Uint8Array,
  topic: string,
  partition: number,
): string {
  return `${replayKeyPrefix(senderKid, streamId, topic)}${partition}`;
}

/** replayKeyOf without the partition (sessions precompute it). */
export function replayKeyPrefix(
  senderKid: Uint8Array,
  streamId: Uint8Array,
  topic: string,
): string {
  return `${Buffer.from(senderKid).toString('hex')}.${Buffer.from(streamId).toString('hex')}.${topic}.`;
}

export class ReplayWindow {
  /** Highest marked seq, or -1 when nothing was marked. */
  #highest: number;
  /** Bit (s mod 1024) is set when seq s ∈ (highest − 1024, highest] was marked. */
  readonly #bits = new Uint32Array(WORDS);
  /** After an idle shrink, every seq ≤ highest counts as seen. */
  #shrunk = false;
  #lastSeenMs: number;

  constructor(lastSeenMs = 0) {
    this.#highest = -1;
    this.#lastSeenMs = lastSeenMs;
  }

  get highest(): number {
    return this.#highest;
  }

  get lastSeenMs(): number {
    return this.#lastSeenMs;
  }

  /** True after shrink(): the bitmap is gone and everything ≤ highest counts as seen. */
  get shrunk(): boolean {
    return this.#shrunk;
  }

  /** fresh: never marked; duplicate: marked (or ≤ highest after a shrink); stale: ≤ highest − 1024. */
  check(seq: number): ReplayVerdict {
    const h = this.#highest;
    if (seq > h) return 'fresh';
    if (seq <= h - REPLAY_WINDOW_BITS) return 'stale';
    if (this.#shrunk) return 'duplicate';
    const i = seq % REPLAY_WINDOW_BITS;
    return (this.#bits[i >>> 5]! & (1 << (i & 31))) !== 0 ? 'duplicate' : 'fresh';
  }

  /**
   * Marks `seq` as delivered. A seq beyond highest slides the window (clearing the bits it passes);
   * a stale seq is refused (the caller checked first).
   */
  mark(seq: number, nowMs: number): void {
    if (!isU53(seq)) throw invalidArgument('seq must be an integer in [0, 2^53)');
    const h = this.#highest;
    if (seq <= h - REPLAY_WINDOW_BITS) throw invalidArgument('seq is behind the window');
    if (seq > h) {
      if (this.#shrunk || seq - h >= REPLAY_WINDOW_BITS || h < 0) {
        this.#bits.fill(0);
        if (this.#shrunk && seq - h < REPLAY_WINDOW_BITS) {
          // Re-expand a shrunk window: everything in (seq − 1024, h] counts as seen.
          for (let s = Math.max(0, seq - REPLAY_WINDOW_BITS + 1); s <= h; s++) this.#set(s);
        }
        this.#shrunk = false;
      } else {
        for (let s = h + 1; s < seq; s++) this.#clear(s);
      }
      this.#highest = seq;
    } else if (this.#shrunk) {
      // ≤ highest after a shrink already counts as seen.
      this.#lastSeenMs = Math.max(this.#lastSeenMs, nowMs);
      return;
    }
    this.#set(seq);
    this.#lastSeenMs = Math.max(this.#lastSeenMs, nowMs);
  }

  /** Drops the bitmap of an idle window: seqs ≤ highest then count as seen (late ones are refused). */
  shrink(): void {
    if (this.#highest < 0) return;
    this.#shrunk = true;
    this.#bits.fill(0);
  }

  /** True when the window was idle for at least `idleMs` at `nowMs`. */
  isIdle(nowMs: number, idleMs: number): boolean {
    return nowMs - this.#lastSeenMs >= idleMs;
  }

  #set(s: number): void {
    const i = s % REPLAY_WINDOW_BITS;
    this.#bits[i >>> 5]! |= 1 << (i & 31);
  }

  #clear(s: number): void {
    const i = s % REPLAY_WINDOW_BITS;
    this.#bits[i >>> 5]! &= ~(1 << (i & 31));
  }

  /**
   * `u8 1 ‖ u8 flags ‖ u64 highest+1 ‖ u64 lastSeenMs ‖ [bitmap 128 bytes, bit i of byte j = seq ≡ 8j+i]`;
   * the bitmap is absent for an empty or shrunk window.
   */
  toBytes(): Uint8Array {
    const withBitmap = !this.#shrunk && this.#highest >= 0;
    const out = new Uint8Array(HEAD_BYTES + (withBitmap ? BITMAP_BYTES : 0));
    out[0] = STATE_VERSION;
    out[1] = this.#shrunk ? FLAG_SHRUNK : 0;
    writeU64(out, 2, this.#highest + 1);
    writeU64(out, 10, this.#lastSeenMs);
    if (withBitmap) {
      for (let w = 0; w < WORDS; w++) {
        const v = this.#bits[w]!;
        for (let b = 0; b < 4; b++) out[HEAD_BYTES + w * 4 + b] = (v >>> (8 * b)) & 0xff;
      }
    }
    return out;
  }

  /** Strict inverse of toBytes(); throws EnvelopeUsageError REPLAY_STATE_INVALID on any deviation. */
  static fromBytes(bytes: Uint8Array): ReplayWindow {
    const invalid = (why: string): never => {
      throw new EnvelopeUsageError('REPLAY_STATE_INVALID', `replay window state: ${why}`);
    };
    if (bytes.length < HEAD_BYTES) invalid('too short');
    if (bytes[0] !== STATE_VERSION) invalid('version');
    const flags = bytes[1]!;
    if ((flags & ~FLAG_SHRUNK) !== 0) invalid('flags');
    const highestPlus1 = readU64(bytes, 2);
    const lastSeenMs = readU64(bytes, 10);
    if (highestPlus1 < 0 || highestPlus1 > Number.MAX_SAFE_INTEGER || lastSeenMs < 0)
      invalid('range');
    const shrunk = (flags & FLAG_SHRUNK) !== 0;
    const empty = highestPlus1 === 0;
    if (shrunk && empty) invalid('shrunk empty window');
    const withBitmap = !shrunk && !empty;
    if (bytes.length !== HEAD_BYTES + (withBitmap ? BITMAP_BYTES : 0)) invalid('length');
    const w = new ReplayWindow(lastSeenMs);
    w.#highest = highestPlus1 - 1;
    w.#shrunk = shrunk;
    if (withBitmap) {
      for (let i = 0; i < WORDS; i++) {
        const o = HEAD_BYTES + i * 4;
        w.#bits[i] =
          (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
      }
      if (w.check(w.#highest) !== 'duplicate') invalid('highest not marked');
      // Bits for seqs below 0 cannot be set.
      for (let s = w.#highest + 1 - REPLAY_WINDOW_BITS; s < 0; s++) {
        const i = ((s % REPLAY_WINDOW_BITS) + REPLAY_WINDOW_BITS) % REPLAY_WINDOW_BITS;
        if ((w.#bits[i >>> 5]! & (1 << (i & 31))) !== 0) invalid('bit below seq 0');
      }
    }
    return w;
  }
}
