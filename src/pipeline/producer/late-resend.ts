/**
 * Which requests of a pending batch `resend` may send as they are, and which fell so far behind their
 * stream that the consumers' replay window (docs/SPEC.md §6) would refuse them as STALE once newer
 * records of the stream were accepted: more than half a window behind its next seq on the partition.
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import { REPLAY_WINDOW_BITS } from '../../envelope/replay-window.js';
import type { SequenceCounter } from '../../envelope/sequence-counter.js';
import type { PendingSource, SealedBatch } from './producer-types.js';

/** Request indices of `pending`: `keep` (exact bytes) and `reseal` (behind the window). */
export function splitLateRequests(
  crypto: CryptoProvider,
  pending: SealedBatch,
  source: PendingSource,
  current: SequenceCounter | undefined,
): { keep: number[]; reseal: number[] } {
  const keep: number[] = [];
  const reseal: number[] = [];
  pending.requests.forEach((request, i) => {
    const metas = pending.messages[i] ?? [];
    const lowest = metas.reduce((a, m) => Math.min(a, m.seq), Number.MAX_SAFE_INTEGER);
    const stream = source.requestStreams[i];
    const behind =
      current !== undefined &&
      stream !== undefined &&
      crypto.equalConstantTime(stream, current.streamId) &&
      current.peek(request.partition) - lowest > REPLAY_WINDOW_BITS / 2;
    (behind ? reseal : keep).push(i);
  });
  return { keep, reseal };
}
