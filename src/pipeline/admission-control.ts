import type { Clock } from '../runtime/clock.js';
import { checkRate, TokenBucket, type TokenRate } from './token-bucket.js';

export type { TokenRate } from './token-bucket.js';

/** Options of {@link AdmissionControl}. */
export interface AdmissionOptions {
  /** Per partition. Default 200/s, burst 50. */
  readonly partition?: TokenRate;
  /** Across all partitions of the consumer. Default 1,000/s, burst 200. */
  readonly global?: TokenRate;
}

/**
 * Admission tokens for header-cache misses (docs/SPEC.md §5 step 4): opening a new session header
 * costs an X25519 and an Ed25519 operation, so a flood of junk headers must not burn the CPU. A miss
 * needs a token from its partition's bucket AND the global bucket; without one the caller pauses the
 * partition for `waitMs` — never drops and never dead-letters the record.
 */
export class AdmissionControl {
  readonly #clock: Clock;
  readonly #partitionRate: TokenRate;
  readonly #global: TokenBucket;
  readonly #partitions = new Map<string, TokenBucket>();

  constructor(clock: Clock, options: AdmissionOptions = {}) {
    this.#clock = clock;
    this.#partitionRate = checkRate(
      options.partition ?? { perSecond: 200, burst: 50 },
      'admission',
    );
    this.#global = new TokenBucket(
      checkRate(options.global ?? { perSecond: 1000, burst: 200 }, 'admission'),
      clock.nowMs(),
    );
  }

  #bucket(key: string): TokenBucket {
    let b = this.#partitions.get(key);
    if (b === undefined) {
      b = new TokenBucket(this.#partitionRate, this.#clock.nowMs());
      this.#partitions.set(key, b);
    }
    return b;
  }

  /** Takes a token for a miss on `partitionKey` if both buckets have one; which one was empty otherwise. */
  take(partitionKey: string): 'admitted' | 'partition' | 'global' {
    const now = this.#clock.nowMs();
    const b = this.#bucket(partitionKey);
    if (!b.available(now)) return 'partition';
    if (!this.#global.available(now)) return 'global';
    b.take();
    this.#global.take();
    return 'admitted';
  }

  /** How long to pause `partitionKey` before a token may be there. */
  waitMs(partitionKey: string): number {
    const now = this.#clock.nowMs();
    return Math.max(1, this.#bucket(partitionKey).waitMs(now), this.#global.waitMs(now));
  }
}
