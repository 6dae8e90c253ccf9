/**
 * The consumer's lifecycle after a crash (docs/API.md, SealedConsumer `restart`): when the transport
 * consumer stops on an error its client does not restart from, a new one is started after a backoff,
 * alerting CONSUMER_RESTARTING; after `maxAttempts` restarts without a stable run the supervisor
 * gives up: CONSUMER_FAILED to the alert and to the `onFailed` listeners. Collaborators are passed in
 * (`replace` swaps the transport consumer), so the rule can be tested alone.
 */
import type { ConsumerCrash } from '../../kafka/transport.js';
import type { Clock } from '../../runtime/clock.js';
import { PipelineError } from '../pipeline-error.js';
import { describeError, type PipelineLogger } from '../pipeline-logger.js';
import { backoffDelayMs } from './backoff.js';

/** The restart rule's settings, resolved once. */
export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
  readonly stableAfterMs: number;
}

/** Resolves the SealedConsumer `restart` option against its defaults. */
export function restartPolicy(options: Partial<RestartPolicy> | undefined): RestartPolicy {
  return {
    initialDelayMs: options?.initialDelayMs ?? 1000,
    maxDelayMs: options?.maxDelayMs ?? 30_000,
    maxAttempts: options?.maxAttempts ?? 10,
    stableAfterMs: options?.stableAfterMs ?? 60_000,
  };
}

export interface RestartSupervisorOptions {
  readonly policy: RestartPolicy;
  readonly clock: Clock;
  readonly logger: PipelineLogger;
  /** False once the consumer is closing: no restart then. */
  readonly active: () => boolean;
  /** Disconnects the crashed transport consumer and starts a new one (rejects if it cannot). */
  readonly replace: () => Promise<void>;
  /** A consumer-wide alert (CONSUMER_RESTARTING, CONSUMER_FAILED). */
  readonly alert: (code: string) => void;
}

/** See the module comment. */
export class RestartSupervisor {
  readonly #o: RestartSupervisorOptions;
  #restarting = false;
  #attempts = 0;
  #restartedAtMs = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #failed = false;
  readonly #failedListeners = new Set<(error: PipelineError) => void>();

  constructor(options: RestartSupervisorOptions) {
    this.#o = options;
  }

  get restarting(): boolean {
    return this.#restarting;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Restarts since the last stable run. */
  get attempts(): number {
    return this.#attempts;
  }

  /** A crash of the current transport consumer. */
  crashed(crash: ConsumerCrash): void {
    // The client restarts by itself, a restart is under way, or we are stopping: nothing to do.
    if (crash.willRestart || this.#restarting || this.#failed || !this.#o.active()) return;
    if (this.#o.clock.nowMs() - this.#restartedAtMs >= this.#o.policy.stableAfterMs)
      this.#attempts = 0;
    void this.#restart(crash.error);
  }

  async #restart(cause: unknown): Promise<void> {
    const p = this.#o.policy;
    this.#restarting = true;
    let lastError = cause;
    try {
      while (this.#o.active()) {
        const attempt = ++this.#attempts;
        if (attempt > p.maxAttempts) {
          this.#giveUp(lastError, attempt - 1);
          return;
        }
        const delayMs = backoffDelayMs(attempt, p.initialDelayMs, p.maxDelayMs);
        this.#o.logger.warn({ attempt, delayMs }, 'restarting the transport consumer');
        this.#o.alert('CONSUMER_RESTARTING');
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#timer = setTimeout(resolve, delayMs);
        });
        this.#wake = undefined;
        if (!this.#o.active()) return;
        try {
          await this.#o.replace();
          this.#restartedAtMs = this.#o.clock.nowMs();
          this.#o.logger.info({ attempt }, 'transport consumer restarted');
          return;
        } catch (err) {
          lastError = err;
          this.#o.logger.warn({ err: describeError(err), attempt }, 'restart failed');
        }
      }
    } finally {
      this.#restarting = false;
    }
  }

  #giveUp(cause: unknown, attempts: number): void {
    const error = new PipelineError(
      'CONSUMER_FAILED',
      `the transport consumer could not be restarted after ${attempts} attempts`,
      { cause },
    );
    this.#failed = true;
    this.#o.logger.error({ err: describeError(cause), attempts }, 'consumer failed; giving up');
    this.#o.alert('CONSUMER_FAILED');
    for (const listener of this.#failedListeners) {
      try {
        listener(error);
      } catch (err) {
        this.#o.logger.error({ err: describeError(err) }, 'onFailed listener failed');
      }
    }
  }

  /** Calls `listener` once the supervisor gave up. Returns an unsubscribe. */
  onFailed(listener: (error: PipelineError) => void): () => void {
    this.#failedListeners.add(listener);
    return () => this.#failedListeners.delete(listener);
  }

  /** Stops a pending restart (the consumer is closing). */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#wake?.();
  }
}
