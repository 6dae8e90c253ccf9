import type { Clock } from '../runtime/clock.js';

/** A token rate and burst. */
export interface TokenRate {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Bucket size. */
  readonly burst: number;
}

/** Options of {@link AdmissionControl}. */
export interface AdmissionOptions {
  /** Per partition. Default 200/s, burst 50. */
  readonly partition?: TokenRate;
  /** Across all partitions of the consumer. Default 1,000/s, burst 200. */
  readonly global?: TokenRate;
}

class Bucket {
  #tokens: number;
  #atMs: number;
  constructor(
    readonly rate: TokenRate,
    nowMs: number,
  ) {
    this.#tokens = rate.burst;
    this.#atMs = nowMs;
  }
  #refill(nowMs: number): void {
    const dt = Math.max(0, nowMs - this.#atMs);
    this.#tokens = Math.min(this.rate.burst, this.#tokens + (dt * this.rate.perSecond) / 1000);
    this.#atMs = nowMs;
  }
  available(nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#tokens >= 1;
  }
  take(): void {
    this.#tokens -= 1;
  }
  /** Milliseconds until one token is there. */
  waitMs(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.rate.perSecond);
  }
}

/**
 * Admission tokens for header-cache misses (protocol.md §Opening 4): opening a new session header
 * costs an X25519 and an Ed25519 operation, so a flood of junk headers must not burn the CPU. A miss
 * needs a token from its partition's bucket AND the global bucket; without one the caller pauses the
 * partition for `waitMs` — never drops and never dead-letters the record.
 */
export class AdmissionControl {
  readonly #clock: Clock;
  readonly #partitionRate: TokenRate;
  readonly #global: Bucket;
  readonly #partitions = new Map<string, Bucket>();

  constructor(clock: Clock, options: AdmissionOptions = {}) {
    this.#clock = clock;
    this.#partitionRate = checkRate(options.partition ?? { perSecond: 200, burst: 50 });
    this.#global = new Bucket(checkRate(options.global ?? { perSecond: 1000, burst: 200 }), clock.nowMs());
  }

  #bucket(key: string): Bucket {
    let b = this.#partitions.get(key);
    if (b === undefined) {
      b = new Bucket(this.#partitionRate, this.#clock.nowMs());
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

function checkRate(r: TokenRate): TokenRate {
  if (!(r.perSecond > 0) || !(r.burst >= 1)) throw new RangeError('admission rates need perSecond > 0 and burst ≥ 1');
  return r;
}
