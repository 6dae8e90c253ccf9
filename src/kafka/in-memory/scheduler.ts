/**
 * Time for the in-memory transport: the current time and delayed calls (scheduled resumes). The core
 * of the in-memory transport uses nothing else, so a test that passes a {@link ManualScheduler}
 * decides when a paused partition resumes.
 */
import type { Clock } from '../../runtime/clock.js';

/** A delayed call that can be cancelled. */
export interface ScheduledCall {
  cancel(): void;
}

/** The current time and delayed calls. */
export interface Scheduler {
  nowMs(): number;
  /** Calls `run` once, `delayMs` from now. */
  after(delayMs: number, run: () => void): ScheduledCall;
}

/** Real time: the given clock and Node timers (unref'd: a pending resume keeps no process alive). */
export function realTimeScheduler(clock: Clock): Scheduler {
  return {
    nowMs: () => clock.nowMs(),
    after(delayMs, run) {
      const timer = setTimeout(run, Math.max(0, delayMs));
      timer.unref();
      return { cancel: () => clearTimeout(timer) };
    },
  };
}

interface PendingCall {
  readonly dueMs: number;
  readonly seq: number;
  readonly run: () => void;
}

/**
 * Virtual time for tests: time moves only in {@link advance}, which runs the calls that fall due in
 * due-time order (ties in the order they were scheduled).
 */
export class ManualScheduler implements Scheduler {
  #nowMs: number;
  #seq = 0;
  readonly #pending = new Map<number, PendingCall>();

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  after(delayMs: number, run: () => void): ScheduledCall {
    const seq = this.#seq++;
    this.#pending.set(seq, { dueMs: this.#nowMs + Math.max(0, delayMs), seq, run });
    return { cancel: () => this.#pending.delete(seq) };
  }

  /** How many delayed calls are waiting. */
  pendingCount(): number {
    return this.#pending.size;
  }

  /** Moves time forward by `ms`, running every call that falls due on the way. */
  advance(ms: number): void {
    const target = this.#nowMs + Math.max(0, ms);
    for (;;) {
      let next: PendingCall | undefined;
      for (const c of this.#pending.values())
        if (c.dueMs <= target && (next === undefined || c.dueMs < next.dueMs)) next = c;
      if (next === undefined) break;
      this.#pending.delete(next.seq);
      this.#nowMs = Math.max(this.#nowMs, next.dueMs);
      next.run();
    }
    this.#nowMs = target;
  }
}
