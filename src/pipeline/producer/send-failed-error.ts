import { PipelineError } from '../pipeline-error.js';
import type { SealedBatch } from './producer-types.js';

/**
 * A SEND_FAILED error: the sealed records are kept so `resend(err.pending)` re-sends them (unchanged,
 * or sealed again under a fresh stream when they fell behind the replay window, see `resend`).
 */
export class SendFailedError extends PipelineError {
  readonly pending: SealedBatch;
  constructor(pending: SealedBatch, cause: unknown) {
    super(
      'SEND_FAILED',
      'the broker did not acknowledge the sealed records; pass err.pending to resend()',
      { retriable: true, cause },
    );
    this.pending = pending;
  }
}
