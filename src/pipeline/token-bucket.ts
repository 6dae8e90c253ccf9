import { invalidArgument } from '../errors.js';

/** A token rate and burst. */
export interface TokenRate {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Bucket size. */
  readonly burst: number;
}

/**
 * A token bucket on an injected time (milliseconds): starts full, refills continuously at
 * `rate.perSecond` up to `rate.burst`. Used by the admission control and the dead-letter breaker.
 */
export class TokenBucket {
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
  /** True when at least one whole token is there. */
  available(nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#tokens >= 1;
  }
  /** Takes one token; call only after `available` returned true. */
  take(): void {
    this.#tokens -= 1;
  }
  /** Milliseconds until one token is there. */
  waitMs(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.rate.perSecond);
  }
}

/** Throws ConfigError ARGUMENT_INVALID unless perSecond > 0 and burst ≥ 1. */
export function checkRate(r: TokenRate, what: string): TokenRate {
  if (!(r.perSecond > 0) || !(r.burst >= 1))
    throw invalidArgument(`${what} rates need perSecond > 0 and burst ≥ 1`);
  return r;
}
