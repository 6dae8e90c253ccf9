import { PipelineError } from '../pipeline-error.js';
import type { SealedBatch, SentMessage } from './producer-types.js';

/**
 * A SEND_FAILED error: the sealed records not acknowledged are kept so `resend(err.pending)` re-sends
 * them (unchanged, or sealed again under a fresh stream when they fell behind the replay window, see
 * `resend`). A send split into several produce requests may fail after some were acknowledged: those
 * messages are in `sent` (and `pending.acknowledged`), not in `pending.requests`.
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

  /** The results of the send's messages that were acknowledged before the failure, in message order. */
  get sent(): readonly SentMessage[] {
    return this.pending.acknowledged ?? [];
  }
}
