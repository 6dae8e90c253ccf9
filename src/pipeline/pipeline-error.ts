import { SealpostError, retriableFrom, type ErrorCodeTable } from '../errors.js';

/**
 * Codes the pipeline itself raises, and whether they are retriable (errors of the modules it
 * composes — TransportError, RegistryError, PolicyError, DirectoryError, KmsError, AvroEncodeError —
 * pass through unchanged). docs/API.md §Error codes lists them all.
 */
export const PIPELINE_ERROR_CODES = {
  /** The producer or consumer was used before connect()/run() or after close(). */
  PIPELINE_NOT_READY: 'no',
  PIPELINE_CLOSED: 'no',
  /** The directory allows no recipient on the topic (nothing to seal to). */
  NO_ALLOWED_RECIPIENTS: 'no',
  /** The topic's value schema is unknown: neither passed in options nor registered as `<topic>-value`. */
  VALUE_SCHEMA_UNKNOWN: 'no',
  /**
   * A message is malformed as an argument (key type, contentType, a batch not from this producer).
   * Bad option values are ConfigError ARGUMENT_INVALID.
   */
  MESSAGE_INVALID: 'no',
  /**
   * The producer's signing key is retiring (or a newer one is published) and it could not load the
   * rotated identity (no identitySource, or the reload failed or did not bring the new key): nothing
   * was sealed (docs/OPERATIONS.md, sender rotation).
   */
  SENDER_KEY_RETIRED: 'yes',
  /** The broker did not acknowledge the sealed records after every attempt (retriable: `resend` them). */
  SEND_FAILED: 'yes',
  /** MetadataEventEmitter.close(): the final flush failed; the events stay in the outbox if any. */
  EVENTS_NOT_FLUSHED: 'yes',
  /** The envelope schema file could not be read. */
  ENVELOPE_SCHEMA_UNAVAILABLE: 'no',
  /**
   * Replay state: the record the commit points to is missing (pause + alert, or the `rebuild`
   * policy); retriable while the state topic read times out.
   */
  REPLAY_STATE_MISSING: 'varies',
  /** Replay state: found but its hash, AEAD, generation or offset does not match the commit. */
  REPLAY_STATE_MISMATCH: 'no',
  /** Replay state: the state key could not be created or unwrapped. */
  REPLAY_STATE_KEY_UNAVAILABLE: 'yes',
  /** The consumer's transport consumer crashed and could not be restarted within the bound. */
  CONSUMER_FAILED: 'no',
} as const satisfies ErrorCodeTable;
export type PipelineErrorCode = keyof typeof PIPELINE_ERROR_CODES;

/**
 * A failure raised by SealedProducer / SealedConsumer. Messages carry no payload, key or plaintext.
 * `retriable` follows the code's table unless the code's retriability varies (then the raiser's).
 */
export class PipelineError extends SealpostError {
  declare readonly code: PipelineErrorCode;
  constructor(
    code: PipelineErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, {
      ...options,
      retriable: retriableFrom(PIPELINE_ERROR_CODES[code], options.retriable),
    });
  }
}

/** Narrows `unknown` to PipelineError. */
export function isPipelineError(err: unknown): err is PipelineError {
  return err instanceof PipelineError;
}
