import { markAsUntransferable } from 'node:worker_threads';
import { carveOpenedBody } from './body.js';

/** Bodies up to this many bytes are opened into the scratch; larger ones get their own memory. */
export const OPENED_BODY_SCRATCH_BYTES = 8 * 1024;

/**
 * Memory a reader that opens one record at a time decrypts each body into, instead of a fresh carve
 * of the opened-body slabs (docs/PERFORMANCE.md, issue 18: every carve is ArrayBuffer memory, and V8
 * starts a full collection after each ≈ 10 MB of it). The opened message's byte fields are views
 * into this memory, valid while the record that opened them (`owner`) holds it: until release(owner).
 * While another record holds it — two batches of one partition overlapping during a rebalance — a
 * body gets a slab carve as before, so no view is ever written over while in use. The pipeline
 * zeroes each payload once decoded (as it does a slab carve's); what stays until the next body is
 * written over is the body's header part (message id, times, schema fingerprint, content type).
 */
export class OpenedBodyScratch {
  readonly #memory: Uint8Array;
  #owner: object | undefined;

  constructor() {
    this.#memory = new Uint8Array(OPENED_BODY_SCRATCH_BYTES);
    // As the slabs: a handler that transfers a view's memory gets it copied instead of detaching it.
    markAsUntransferable(this.#memory.buffer);
  }

  /**
   * `n` bytes for `owner`'s body: the scratch when it is free (or already `owner`'s) and large
   * enough, else a slab carve.
   */
  carve(n: number, owner: object): Uint8Array {
    if (n > this.#memory.length || (this.#owner !== undefined && this.#owner !== owner))
      return carveOpenedBody(n);
    this.#owner = owner;
    return this.#memory.subarray(0, n);
  }

  /** `owner` is done with its views (a no-op for any other owner). */
  release(owner: object): void {
    if (this.#owner === owner) this.#owner = undefined;
  }
}
