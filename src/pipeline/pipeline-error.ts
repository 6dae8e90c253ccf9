import { SealpostError } from '../errors.js';

/**
 * Codes the pipeline itself raises (errors of the modules it composes — TransportError,
 * RegistryError, PolicyError, DirectoryError, KmsError, AvroEncodeError — pass through unchanged).
 * docs/API.md §Error codes lists them all.
 */
export type PipelineErrorCode =
  /** The producer or consumer was used before connect()/run() or after close(). */
  | 'PIPELINE_NOT_READY'
  | 'PIPELINE_CLOSED'
  /** The directory allows no recipient on the topic (nothing to seal to). */
  | 'NO_RECIPIENTS'
  /** The topic's value schema is unknown: neither passed in options nor registered as `<topic>-value`. */
  | 'VALUE_SCHEMA_UNKNOWN'
  /** A message is malformed as an argument (key type, empty batch, contentType). */
  | 'MESSAGE_INVALID'
  /**
   * The producer's signing key is retiring (or a newer one is published) and it could not load the
   * rotated identity (no identitySource, or the reload failed or did not bring the new key): nothing
   * was sealed (docs/OPERATIONS.md, sender rotation).
   */
  | 'SENDER_KEY_RETIRED'
  /** The broker did not acknowledge the sealed records after every attempt (retriable: `resend` them). */
  | 'SEND_FAILED'
  /** MetadataEventEmitter.close(): the final flush failed; the events stay in the outbox if any. */
  | 'EVENTS_NOT_FLUSHED'
  /** The envelope schema file could not be read. */
  | 'ENVELOPE_SCHEMA_UNAVAILABLE'
  /** Replay state: the record the commit points to is missing (pause + alert, or the `rebuild` policy). */
  | 'REPLAY_STATE_MISSING'
  /** Replay state: found but its hash, AEAD, generation or offset does not match the commit. */
  | 'REPLAY_STATE_MISMATCH'
  /** Replay state: the state key could not be created or unwrapped. */
  | 'REPLAY_STATE_KEY_UNAVAILABLE'
  /** The consumer's transport consumer crashed and could not be restarted within the bound. */
  | 'CONSUMER_FAILED';

/** A failure raised by SealedProducer / SealedConsumer. Messages carry no payload, key or plaintext. */
export class PipelineError extends SealpostError {
  declare readonly code: PipelineErrorCode;
  constructor(
    code: PipelineErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, options);
  }
}

/** Narrows `unknown` to PipelineError. */
export function isPipelineError(err: unknown): err is PipelineError {
  return err instanceof PipelineError;
}
