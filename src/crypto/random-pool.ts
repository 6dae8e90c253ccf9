import { CryptoError } from './crypto-error.js';

/** Fills a buffer with cryptographically secure random bytes (e.g. `node:crypto.randomFillSync`). */
export type RandomFillSource = (out: Uint8Array) => void;

/** Default pool size: one OS call serves 4 KiB of requests. */
export const RANDOM_POOL_DEFAULT_BYTES = 4096;

/**
 * A pool of secure random bytes filled in bulk from a source and served in order.
 *
 * Why: libsodium-wrappers asks its host for randomness once per byte (`Module.getRandomValue`, which
 * in Node calls `crypto.getRandomValues` on a 4-byte array each time), so a 32-byte key costs 32 calls.
 * The pool turns that into one call per `size` bytes.
 *
 * Every byte is served at most once: served bytes are zeroed in the pool at once, so a later memory
 * disclosure of the pool does not reveal keys already derived from it. Requests of at least the pool
 * size bypass it and go straight to the source.
 */
export class RandomPool {
  readonly #source: RandomFillSource;
  readonly #pool: Uint8Array;
  /** Index of the next unserved byte; pool.length means empty. */
  #pos: number;
  #closed = false;

  constructor(source: RandomFillSource, size: number = RANDOM_POOL_DEFAULT_BYTES) {
    if (!Number.isInteger(size) || size < 64 || size > 1 << 20) {
      throw new CryptoError(
        'CRYPTO_BAD_ARGUMENT',
        'RandomPool: size must be an integer in 64..1048576',
      );
    }
    this.#source = source;
    this.#pool = new Uint8Array(size);
    this.#pos = size; // filled lazily on first use
  }

  /** Pool capacity in bytes. */
  get size(): number {
    return this.#pool.length;
  }

  /** Unserved bytes currently held (for tests and diagnostics). */
  get available(): number {
    return this.#pool.length - this.#pos;
  }

  /** Fills `out` with random bytes. */
  fill(out: Uint8Array): void {
    this.#checkOpen();
    const n = out.length;
    if (n >= this.#pool.length) {
      this.#source(out);
      return;
    }
    let written = 0;
    while (written < n) {
      if (this.#pos === this.#pool.length) this.#refill();
      const take = Math.min(n - written, this.#pool.length - this.#pos);
      const start = this.#pos;
      const end = start + take;
      if (take <= 64) {
        // Nonces and keys: a byte loop avoids allocating a subarray view per call (hot path).
        const pool = this.#pool;
        for (let i = 0; i < take; i++) {
          out[written + i] = pool[start + i]!;
          pool[start + i] = 0;
        }
      } else {
        out.set(this.#pool.subarray(start, end), written);
        this.#pool.fill(0, start, end);
      }
      this.#pos = end;
      written += take;
    }
  }

  /** A uniformly random unsigned 32-bit integer (4 bytes of the pool, big-endian). */
  nextUint32(): number {
    this.#checkOpen();
    if (this.#pool.length - this.#pos < 4) {
      // Fewer than 4 left: discard them (zeroed) rather than splice across a refill.
      this.#pool.fill(0, this.#pos);
      this.#refill();
    }
    const p = this.#pool;
    const i = this.#pos;
    const v = ((p[i]! << 24) | (p[i + 1]! << 16) | (p[i + 2]! << 8) | p[i + 3]!) >>> 0;
    p[i] = 0;
    p[i + 1] = 0;
    p[i + 2] = 0;
    p[i + 3] = 0;
    this.#pos = i + 4;
    return v;
  }

  /** Zeroes the unserved bytes; any later use throws CRYPTO_BAD_STATE. */
  close(): void {
    this.#pool.fill(0);
    this.#pos = this.#pool.length;
    this.#closed = true;
  }

  #refill(): void {
    // Marked empty first: if the source throws half-way, nothing stale or partial is ever served.
    this.#pos = this.#pool.length;
    this.#source(this.#pool);
    this.#pos = 0;
  }

  #checkOpen(): void {
    if (this.#closed) throw new CryptoError('CRYPTO_BAD_STATE', 'RandomPool: used after close');
  }
}
