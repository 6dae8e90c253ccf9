/**
 * The per-stream sequence numbers (docs/SPEC.md §4.2): per (streamId, partition) a counter from
 * 0, shared by all sessions of the stream; never persisted, shared or resumed (a restarted producer
 * takes a new random streamId).
 */
import { copyBytes } from './bytes.js';
import { STREAM_ID_BYTES } from './constants.js';
import { invalidArgument } from '../errors.js';

export class SequenceCounter {
  readonly streamId: Uint8Array;
  readonly #next = new Map<number, number>();

  /** `streamId`: 16 random bytes, fresh per producer instance and topic. */
  constructor(streamId: Uint8Array) {
    if (streamId.length !== STREAM_ID_BYTES) throw invalidArgument('streamId must be 16 bytes');
    this.streamId = copyBytes(streamId);
  }

  /** The seq `next(partition)` would take, without taking it. */
  peek(partition: number): number {
    return this.#next.get(partition) ?? 0;
  }

  /** Takes the next seq of `partition`. */
  next(partition: number): number {
    const seq = this.#next.get(partition) ?? 0;
    if (seq >= Number.MAX_SAFE_INTEGER) throw invalidArgument('seq space exhausted');
    this.#next.set(partition, seq + 1);
    return seq;
  }
}
