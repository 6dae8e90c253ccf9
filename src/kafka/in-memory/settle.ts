import { setImmediate as nextTurn } from 'node:timers/promises';
import type { InMemoryCluster } from './cluster.js';

/** Options of {@link settle}. */
export interface SettleOptions {
  /** Something of the test's own that is still working (e.g. calls to a fake KMS in flight). */
  readonly busy?: () => boolean;
  /** Event-loop turns in a row with nothing moving before it counts as settled. Default 4. */
  readonly quietTurns?: number;
  /** Gives up (resolves false) after this many turns. Default 5,000. */
  readonly maxTurns?: number;
}

/**
 * Lets the clients of an in-memory cluster run until nothing moves: no call in flight, every consumer
 * waiting for something to fetch, no new call for `quietTurns` event-loop turns. Resolves true when
 * settled, false when `maxTurns` ran out. Delayed calls of a ManualScheduler do not run: advance it.
 * Real-time timers of the code under test (its own retries) are not waited for.
 */
export async function settle(
  cluster: InMemoryCluster,
  options: SettleOptions = {},
): Promise<boolean> {
  const needed = options.quietTurns ?? 4;
  let quiet = 0;
  let last = -1;
  for (let i = 0; i < (options.maxTurns ?? 5000); i++) {
    await nextTurn();
    const activity = cluster.activity();
    quiet = cluster.isQuiet() && options.busy?.() !== true && activity === last ? quiet + 1 : 0;
    last = activity;
    if (quiet >= needed) return true;
  }
  return false;
}
