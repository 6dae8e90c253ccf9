/**
 * Which requests of a pending batch `resend` may send as they are, and which fell so far behind their
 * stream that the consumers' replay window (docs/SPEC.md §6) would refuse them as STALE once newer
 * records of the stream were accepted: more than half a window behind its next seq on the partition.
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import { REPLAY_WINDOW_BITS } from '../../envelope/replay-window.js';
import type { SequenceCounter } from '../../envelope/sequence-counter.js';
import type { PendingSource, SealedBatch } from './producer-types.js';

/**
 * Request indices of `pending`: `keep` (exact bytes) and `reseal` (behind the window). A partition's
 * records may span several requests (a send split by size): when one of them is behind, every request
 * of that partition in the current stream is resealed, so the resealed records (sent after the kept
 * ones) never land after a later record of their partition that was kept.
 */
export function splitLateRequests(
  crypto: CryptoProvider,
  pending: SealedBatch,
  source: PendingSource,
  current: SequenceCounter | undefined,
): { keep: number[]; reseal: number[] } {
  const keep: number[] = [];
  const reseal: number[] = [];
  if (current === undefined) return { keep: pending.requests.map((_, i) => i), reseal };
  const inCurrent = pending.requests.map((_, i) => {
    const stream = source.requestStreams[i];
    return stream !== undefined && crypto.equalConstantTime(stream, current.streamId);
  });
  const behindPartitions = new Set<number>();
  pending.requests.forEach((request, i) => {
    const metas = pending.messages[i] ?? [];
    const lowest = metas.reduce((a, m) => Math.min(a, m.seq), Number.MAX_SAFE_INTEGER);
    if (inCurrent[i] === true && current.peek(request.partition) - lowest > REPLAY_WINDOW_BITS / 2)
      behindPartitions.add(request.partition);
  });
  pending.requests.forEach((request, i) => {
    (inCurrent[i] === true && behindPartitions.has(request.partition) ? reseal : keep).push(i);
  });
  return { keep, reseal };
}
