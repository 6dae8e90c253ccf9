import type { TopicPartition } from './transport.js';

/** Options of {@link PartitionBackoff}. */
export interface PartitionBackoffOptions {
  /** First delay in ms. Default 200. */
  readonly initialDelayMs?: number;
  /** Largest delay in ms. Default 30 000. */
  readonly maxDelayMs?: number;
  /** Growth factor per consecutive failure. Default 2. */
  readonly multiplier?: number;
  /**
   * Random source in [0, 1) for jitter (the injected one; library code never calls Math.random).
   * When given, each delay is drawn uniformly from [delay/2, delay]. Without it there is no jitter.
   */
  readonly random?: () => number;
}

/**
 * Exponential backoff per partition: each consecutive failure on a partition doubles its delay (up to a
 * cap); a success resets it. Pure bookkeeping, no timers.
 */
export class PartitionBackoff {
  readonly #attempts = new Map<string, number>();
  readonly #initialDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #multiplier: number;
  readonly #random: (() => number) | undefined;

  constructor(options: PartitionBackoffOptions = {}) {
    this.#initialDelayMs = Math.max(1, options.initialDelayMs ?? 200);
    this.#maxDelayMs = Math.max(this.#initialDelayMs, options.maxDelayMs ?? 30_000);
    this.#multiplier = Math.max(1, options.multiplier ?? 2);
    this.#random = options.random;
  }

  /** Records one more failure on the partition and returns how long to wait, in ms. */
  nextDelayMs(at: TopicPartition): number {
    const key = `${at.topic}\u0000${at.partition}`;
    const attempt = this.#attempts.get(key) ?? 0;
    this.#attempts.set(key, attempt + 1);
    const delay = Math.min(
      this.#maxDelayMs,
      this.#initialDelayMs * this.#multiplier ** Math.min(attempt, 64),
    );
    if (this.#random === undefined) return Math.round(delay);
    return Math.round(delay / 2 + (delay / 2) * this.#random());
  }

  /** Consecutive failures recorded for the partition. */
  failures(at: TopicPartition): number {
    return this.#attempts.get(`${at.topic}\u0000${at.partition}`) ?? 0;
  }

  /** Forgets the partition's failures (call after a success). */
  reset(at: TopicPartition): void {
    this.#attempts.delete(`${at.topic}\u0000${at.partition}`);
  }
}
