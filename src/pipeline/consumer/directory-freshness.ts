/**
 * Directory reads the consumer asked for, and what they prove: a refresh that started at S and
 * succeeded reflects every record published before S (the directory never rolls back,
 * docs/SPEC.md §5 step 5). A Kafka record fetched at F was written before F, so once a refresh that
 * started at or after F has succeeded, a kid or sender the directory still lacks was not listed when
 * the record was written: the record can be decided (skipped or dead-lettered) instead of waiting.
 */
import type { KeyDirectory } from '../../keys/directory/key-directory.js';
import type { Clock } from '../../runtime/clock.js';
import { describeError, type PipelineLogger } from '../pipeline-logger.js';

/** Refreshes the directory on demand (rate-limited) and remembers the newest read that succeeded. */
export class DirectoryFreshness {
  readonly #directory: KeyDirectory;
  readonly #clock: Clock;
  readonly #logger: PipelineLogger;
  readonly #minIntervalMs: number;
  #lastKickMs = -Infinity;
  #readStartedMs = -Infinity;

  constructor(directory: KeyDirectory, clock: Clock, logger: PipelineLogger, minIntervalMs = 2000) {
    this.#directory = directory;
    this.#clock = clock;
    this.#logger = logger;
    this.#minIntervalMs = minIntervalMs;
  }

  /** Starts a refresh unless one started less than `minIntervalMs` ago. */
  kick(): void {
    const started = this.#clock.nowMs();
    if (started - this.#lastKickMs < this.#minIntervalMs) return;
    this.#lastKickMs = started;
    this.#directory.refresh().then(
      () => {
        if (started > this.#readStartedMs) this.#readStartedMs = started;
      },
      (err: unknown) => this.#logger.warn({ err: describeError(err) }, 'directory refresh failed'),
    );
  }

  /** True once a refresh started at or after `writtenBeforeMs` has succeeded. */
  covers(writtenBeforeMs: number): boolean {
    return this.#readStartedMs >= writtenBeforeMs;
  }
}
