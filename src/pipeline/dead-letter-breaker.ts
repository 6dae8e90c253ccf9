import { invalidArgument } from '../errors.js';
import type { CoarseClass } from '../events/dead-letter.js';
import type { Clock } from '../runtime/clock.js';
import { checkRate, TokenBucket, type TokenRate } from './token-bucket.js';

/**
 * The failures anyone who can write to a topic can produce cheaply, without any key: junk (MALFORMED),
 * a header of another topic (CONTEXT), a junk header carrying a real recipient kid (HEADER), a copied
 * genuine header with junk ciphertext (MESSAGE), re-injected old records (STALE). SCHEMA and PAYLOAD
 * need a message sealed by an allowed sender, so a flood of those is the sender's doing, not a stranger's.
 */
export const CHEAP_FLOOD_CLASSES: readonly CoarseClass[] = [
  'MALFORMED',
  'CONTEXT',
  'HEADER',
  'MESSAGE',
  'STALE',
];

/** Options of {@link DeadLetterBreaker}. */
export interface DeadLetterBreakerOptions {
  /** Dead-letter writes of governed classes per partition. Default 10/s, burst 100. */
  readonly partition?: TokenRate;
  /** Dead-letter writes of governed classes across all partitions of the consumer. Default 50/s, burst 500. */
  readonly global?: TokenRate;
  /**
   * Coarse classes the budget applies to. Default {@link CHEAP_FLOOD_CLASSES}: those a topic writer
   * without any key can produce at will.
   */
  readonly classes?: readonly CoarseClass[];
  /** A partition's breaker closes after this long without a refusal. Default 10,000 ms. */
  readonly closeAfterMs?: number;
}

/** Called when a partition's breaker opens (first refusal) or closes (quiet for `closeAfterMs`). */
export interface DeadLetterBreakerListener {
  opened(topic: string, partition: number): void;
  closed(topic: string, partition: number): void;
}

interface PartitionBreaker {
  readonly topic: string;
  readonly partition: number;
  readonly bucket: TokenBucket;
  /** Time of the last refusal while open; undefined when closed. */
  lastRefusalMs: number | undefined;
}

/**
 * A budget of dead-letter writes, so a flood of junk (e.g. session headers carrying a real recipient
 * kid, which fail as HEADER) cannot become a dead-letter flood. Each governed write needs a token from its
 * partition's bucket AND the global bucket. Without one the breaker of that partition is open and the
 * caller must NOT write and NOT commit past the record: it pauses the partition for `waitMs` and
 * retries, so the records wait in Kafka and are dead-lettered later at the allowed rate — nothing is
 * dropped, nothing committed past an unprocessed record, and the dead-letter topic never sees more
 * than `burst + perSecond × t` governed writes in any interval `t`.
 */
export class DeadLetterBreaker {
  readonly #clock: Clock;
  readonly #partitionRate: TokenRate;
  readonly #global: TokenBucket;
  readonly #classes: ReadonlySet<CoarseClass>;
  readonly #closeAfterMs: number;
  readonly #listener: DeadLetterBreakerListener | undefined;
  readonly #partitions = new Map<string, PartitionBreaker>();

  constructor(
    clock: Clock,
    options: DeadLetterBreakerOptions = {},
    listener?: DeadLetterBreakerListener,
  ) {
    this.#clock = clock;
    this.#partitionRate = checkRate(
      options.partition ?? { perSecond: 10, burst: 100 },
      'dead-letter breaker',
    );
    this.#global = new TokenBucket(
      checkRate(options.global ?? { perSecond: 50, burst: 500 }, 'dead-letter breaker'),
      clock.nowMs(),
    );
    this.#classes = new Set(options.classes ?? CHEAP_FLOOD_CLASSES);
    const closeAfterMs = options.closeAfterMs ?? 10_000;
    if (!(closeAfterMs >= 0)) throw invalidArgument('dead-letter breaker closeAfterMs must be ≥ 0');
    this.#closeAfterMs = closeAfterMs;
    this.#listener = listener;
  }

  /** True when dead letters of `coarse` need a token. */
  governs(coarse: CoarseClass): boolean {
    return this.#classes.has(coarse);
  }

  #get(topic: string, partition: number): PartitionBreaker {
    const key = `${topic}\u0000${partition}`;
    let p = this.#partitions.get(key);
    if (p === undefined) {
      p = {
        topic,
        partition,
        bucket: new TokenBucket(this.#partitionRate, this.#clock.nowMs()),
        lastRefusalMs: undefined,
      };
      this.#partitions.set(key, p);
    }
    return p;
  }

  /**
   * Takes a token for one governed dead-letter write on (topic, partition) if both buckets have one;
   * otherwise reports which budget is spent and opens that partition's breaker.
   */
  take(topic: string, partition: number): 'allowed' | 'partition' | 'global' {
    const now = this.#clock.nowMs();
    const p = this.#get(topic, partition);
    let verdict: 'allowed' | 'partition' | 'global' = 'allowed';
    if (!p.bucket.available(now)) verdict = 'partition';
    else if (!this.#global.available(now)) verdict = 'global';
    if (verdict === 'allowed') {
      p.bucket.take();
      this.#global.take();
      return verdict;
    }
    const wasOpen = p.lastRefusalMs !== undefined;
    p.lastRefusalMs = now;
    if (!wasOpen) this.#listener?.opened(topic, partition);
    return verdict;
  }

  /** How long (ms, ≥ 1) until a governed write on (topic, partition) may have a token. */
  waitMs(topic: string, partition: number): number {
    const now = this.#clock.nowMs();
    return Math.max(1, this.#get(topic, partition).bucket.waitMs(now), this.#global.waitMs(now));
  }

  /** True while the partition's breaker is open. */
  isOpen(topic: string, partition: number): boolean {
    return this.#partitions.get(`${topic}\u0000${partition}`)?.lastRefusalMs !== undefined;
  }

  /** Closes the breakers that saw no refusal for `closeAfterMs`; call it periodically. */
  tick(): void {
    const now = this.#clock.nowMs();
    for (const p of this.#partitions.values()) {
      if (p.lastRefusalMs !== undefined && now - p.lastRefusalMs >= this.#closeAfterMs) {
        p.lastRefusalMs = undefined;
        this.#listener?.closed(p.topic, p.partition);
      }
    }
  }

  /**
   * A partition no longer assigned: its breaker closes (the gauge must not stay stuck) but its bucket
   * is kept, so a quick revoke-and-reassign cannot hand out a second burst.
   */
  release(topic: string, partition: number): void {
    const p = this.#partitions.get(`${topic}\u0000${partition}`);
    if (p?.lastRefusalMs === undefined) return;
    p.lastRefusalMs = undefined;
    this.#listener?.closed(topic, partition);
  }
}
