import type { Clock } from '../../runtime/clock.js';
import type { Kms, KmsKeyDescription, KmsReference, WrappedKey } from './kms.js';
import { KmsError } from './kms-error.js';

/** Retry policy: capped exponential backoff, bounded by a per-call deadline. */
export interface RetryPolicy {
  /** Give up once this much time has passed since the call began (default 8000 ms). */
  readonly deadlineMs?: number;
  /** First backoff (default 100 ms); doubles each attempt up to `maxDelayMs`. */
  readonly initialDelayMs?: number;
  /** Backoff cap (default 2000 ms). */
  readonly maxDelayMs?: number;
  /** Upper bound on attempts, whatever the deadline (default 20). */
  readonly maxAttempts?: number;
}

export interface RetryingKmsOptions extends RetryPolicy {
  readonly clock: Clock;
  /** Injected so tests control time; defaults to an unref'd setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Observes each retry (for metrics/events); never given key material. */
  readonly onRetry?: (event: {
    operation: string;
    attempt: number;
    code: string;
    delayMs: number;
  }) => void;
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * Decorator: retries transient KMS failures (`retriable` errors: unreachable, sealed, rate limited,
 * 5xx) with capped exponential backoff until a deadline; permanent failures pass through at once.
 * When it gives up it throws the last error's code with the attempt count and elapsed time added.
 * `rotate` is not retried: it is not idempotent (a lost answer would rotate twice).
 */
export class RetryingKms implements Kms {
  readonly #inner: Kms;
  readonly #clock: Clock;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #deadlineMs: number;
  readonly #initialDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxAttempts: number;
  readonly #onRetry: RetryingKmsOptions['onRetry'];

  constructor(inner: Kms, options: RetryingKmsOptions) {
    this.#inner = inner;
    this.#clock = options.clock;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#deadlineMs = options.deadlineMs ?? 8000;
    this.#initialDelayMs = options.initialDelayMs ?? 100;
    this.#maxDelayMs = options.maxDelayMs ?? 2000;
    this.#maxAttempts = options.maxAttempts ?? 20;
    this.#onRetry = options.onRetry;
    if (!(
      this.#deadlineMs > 0 &&
      this.#initialDelayMs > 0 &&
      this.#maxDelayMs >= this.#initialDelayMs &&
      this.#maxAttempts >= 1
    )) {
      throw new KmsError(
        'KMS_CONFIG_INVALID',
        'retry policy: need deadlineMs > 0, 0 < initialDelayMs <= maxDelayMs, maxAttempts >= 1',
      );
    }
  }

  get reference(): KmsReference {
    return this.#inner.reference;
  }

  wrap(plaintext: Uint8Array): Promise<WrappedKey> {
    return this.#run('wrap', () => this.#inner.wrap(plaintext));
  }
  unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    return this.#run('unwrap', () => this.#inner.unwrap(wrapped));
  }
  rewrap(wrapped: WrappedKey): Promise<WrappedKey> {
    return this.#run('rewrap', () => this.#inner.rewrap(wrapped));
  }
  rotate(): Promise<KmsKeyDescription> {
    return this.#inner.rotate();
  }
  describe(): Promise<KmsKeyDescription> {
    return this.#run('describe', () => this.#inner.describe());
  }
  setMinDecryptionVersion(version: number): Promise<KmsKeyDescription> {
    return this.#run('setMinDecryptionVersion', () => this.#inner.setMinDecryptionVersion(version));
  }
  close(): Promise<void> {
    return this.#inner.close();
  }

  async #run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const startMs = this.#clock.nowMs();
    let delayMs = this.#initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof KmsError) || !err.retriable) throw err;
        const elapsedMs = this.#clock.nowMs() - startMs;
        const remainingMs = this.#deadlineMs - elapsedMs;
        if (attempt >= this.#maxAttempts || remainingMs <= 0) {
          throw new KmsError(
            err.code,
            `${err.message} (gave up on ${operation} after ${attempt} attempts in ${elapsedMs} ms)`,
            { cause: err, ...(err.httpStatus === undefined ? {} : { httpStatus: err.httpStatus }) },
          );
        }
        const waitMs = Math.min(delayMs, remainingMs);
        this.#onRetry?.({ operation, attempt, code: err.code, delayMs: waitMs });
        await this.#sleep(waitMs);
        delayMs = Math.min(delayMs * 2, this.#maxDelayMs);
      }
    }
  }
}
