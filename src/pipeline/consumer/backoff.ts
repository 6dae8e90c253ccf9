/**
 * The consumer's one backoff rule: exponential from `initialMs`, doubled per attempt, capped at
 * `maxMs`. Attempt 1 waits `initialMs`.
 */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  const n = Math.max(1, Math.floor(attempt));
  return Math.min(maxMs, initialMs * 2 ** Math.min(n - 1, 30));
}
