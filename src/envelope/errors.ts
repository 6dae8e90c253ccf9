import { SealpostError, type ErrorCodeTable, type Retriability } from '../errors.js';

/**
 * The coarse rejection classes. Only the coarse class leaves the consumer in clear (the dead-letter
 * record); the detailed code goes into the sealed audit event, so the dead-letter topic is no oracle
 * on the hidden sender.
 */
export type EnvelopeCoarseClass =
  'MALFORMED' | 'CONTEXT' | 'HEADER' | 'MESSAGE' | 'STALE' | 'SCHEMA' | 'PAYLOAD';

/** Every detailed rejection code and its coarse class (docs/SPEC.md §Rejections mirrors this table). */
export const ENVELOPE_ERROR_CLASSES = {
  // --- decode [MALFORMED] ---
  TOO_SHORT: 'MALFORMED',
  BAD_MAGIC: 'MALFORMED',
  WRONG_SCHEMA_ID: 'MALFORMED',
  TRUNCATED: 'MALFORMED',
  TRAILING_BYTES: 'MALFORMED',
  NON_CANONICAL: 'MALFORMED',
  BAD_LENGTH: 'MALFORMED',
  BAD_VERSION: 'MALFORMED',
  BAD_SUITE: 'MALFORMED',
  WRONG_NAMESPACE: 'MALFORMED',
  BAD_TOPIC: 'MALFORMED',
  NO_RECIPIENTS: 'MALFORMED',
  TOO_MANY_RECIPIENTS: 'MALFORMED',
  KIDS_NOT_ASCENDING: 'MALFORMED',
  TAG_COUNT: 'MALFORMED',
  BAD_SEQ: 'MALFORMED',
  CIPHERTEXT_TOO_LARGE: 'MALFORMED',
  // --- context, before any crypto [CONTEXT] ---
  TOPIC_MISMATCH: 'CONTEXT',
  SUITE_NOT_ALLOWED: 'CONTEXT',
  // --- session header [HEADER] ---
  BOX_OPEN_FAILED: 'HEADER',
  COMMITMENT_MISMATCH: 'HEADER',
  PRIVATE_OPEN_FAILED: 'HEADER',
  BAD_FLAGS: 'HEADER',
  BAD_HEADER_TIMES: 'HEADER',
  BAD_SESSION_LIMITS: 'HEADER',
  HEADER_FROM_FUTURE: 'HEADER',
  UNKNOWN_SENDER: 'HEADER',
  SENDER_REVOKED: 'HEADER',
  SENDER_RETIRED: 'HEADER',
  SENDER_NOT_VALID: 'HEADER',
  SENDER_NOT_ALLOWED: 'HEADER',
  RECIPIENT_NOT_ALLOWED: 'HEADER',
  BAD_HEADER_SIGNATURE: 'HEADER',
  // --- too old [STALE] ---
  HEADER_EXPIRED: 'STALE',
  SEQ_TOO_OLD: 'STALE',
  ENTITY_VERSION_STALE: 'STALE',
  // --- message [MESSAGE] ---
  BAD_TAG: 'MESSAGE',
  DECRYPT_FAILED: 'MESSAGE',
  BAD_PADDING: 'MESSAGE',
  BAD_BODY: 'MESSAGE',
  BAD_MESSAGE_SIGNATURE: 'MESSAGE',
  CREATED_OUTSIDE_SESSION: 'MESSAGE',
  MESSAGE_TOO_OLD: 'MESSAGE',
  // --- payload (used by the pipeline) ---
  SCHEMA_MISMATCH: 'SCHEMA',
  PAYLOAD_INVALID: 'PAYLOAD',
  // --- quarantine release wrapper (docs/SPEC.md §11; checked by the pipeline) ---
  RELEASE_MALFORMED: 'MALFORMED',
  RELEASE_WRONG_TARGET: 'CONTEXT',
  RELEASE_NOT_GRANTED: 'HEADER',
  RELEASE_BAD_SIGNATURE: 'HEADER',
  RELEASE_BAD_TIMES: 'HEADER',
  RELEASE_EXPIRED: 'STALE',
} as const satisfies Record<string, EnvelopeCoarseClass>;

/** A detailed rejection code (goes only into sealed audit events). */
export type EnvelopeErrorCode = keyof typeof ENVELOPE_ERROR_CLASSES;

/**
 * The one error the envelope module throws when it rejects input. `coarse` is what may be shown in
 * clear; `code` is the detailed reason. Messages never carry key, payload or plaintext bytes.
 * `retriable` is true only for UNKNOWN_SENDER (a directory refresh may make the same record valid).
 */
export class EnvelopeError extends SealpostError {
  declare readonly code: EnvelopeErrorCode;
  readonly coarse: EnvelopeCoarseClass;

  constructor(code: EnvelopeErrorCode, message?: string) {
    super(code, message ?? `envelope rejected: ${code}`, {
      retriable: envelopeRetriability(code) === 'yes',
    });
    this.coarse = ENVELOPE_ERROR_CLASSES[code];
  }
}

/** Only UNKNOWN_SENDER is retriable: a directory refresh may make the same record valid. */
export function envelopeRetriability(code: EnvelopeErrorCode): Retriability {
  return code === 'UNKNOWN_SENDER' ? 'yes' : 'no';
}

/** Narrows `unknown` to EnvelopeError. */
export function isEnvelopeError(err: unknown): err is EnvelopeError {
  return err instanceof EnvelopeError;
}

/**
 * Misuse by the caller of a sealing API (exhausted or closed session, bad replay state): not a
 * rejection of input. Bad argument values are ConfigError ARGUMENT_INVALID. Never retriable.
 */
export const ENVELOPE_USAGE_ERROR_CODES = {
  SESSION_EXHAUSTED: 'no',
  SESSION_EXPIRED: 'no',
  SESSION_CLOSED: 'no',
  REPLAY_STATE_INVALID: 'no',
} as const satisfies ErrorCodeTable;
export type EnvelopeUsageErrorCode = keyof typeof ENVELOPE_USAGE_ERROR_CODES;

export class EnvelopeUsageError extends SealpostError {
  declare readonly code: EnvelopeUsageErrorCode;
  constructor(code: EnvelopeUsageErrorCode, message: string) {
    super(code, message, { retriable: false });
  }
}
