import { SealpostError, type ErrorCodeTable } from '../errors.js';

/**
 * Why a tokenization call failed. Messages never contain a field value, a token or a key.
 * - `TOKEN_SCHEMA_INVALID`: the schema is not JSON / not Avro-shaped, or an annotation is malformed.
 * - `TOKEN_SCHEMA_UNSUPPORTED`: an annotated field is not string, bytes or a nullable union of one of
 *   them, or the annotation sits where values cannot be followed (arrays, maps, multi-branch unions).
 * - `TOKEN_VALUE_INVALID`: a value does not have the annotated type, or is too long.
 * - `TOKEN_MALFORMED`: a string that is not a sealpost token.
 * - `TOKEN_INVALID`: a well-formed token that does not authenticate under its class key.
 * - `TOKEN_CLASS_UNKNOWN` / `TOKEN_VERSION_UNKNOWN`: no key for the token's class or version.
 * - `TOKEN_NOT_REVERSIBLE`: detokenize on a mask (masks are one-way by design).
 * - `DETOKENIZE_NOT_CLEARED`: the directory does not clear this identity for the class.
 * - `TOKEN_KEY_FILE_INVALID`: the token-key file is malformed, insecure, or a key fails its check value.
 * - `TOKEN_KEYRING_CLOSED`: the keyring was closed (its keys are zeroed).
 */
export const TOKENIZE_ERROR_CODES = {
  TOKEN_SCHEMA_INVALID: 'no',
  TOKEN_SCHEMA_UNSUPPORTED: 'no',
  TOKEN_VALUE_INVALID: 'no',
  TOKEN_MALFORMED: 'no',
  TOKEN_INVALID: 'no',
  TOKEN_CLASS_UNKNOWN: 'no',
  TOKEN_VERSION_UNKNOWN: 'no',
  TOKEN_NOT_REVERSIBLE: 'no',
  DETOKENIZE_NOT_CLEARED: 'no',
  TOKEN_KEY_FILE_INVALID: 'no',
  TOKEN_KEYRING_CLOSED: 'no',
} as const satisfies ErrorCodeTable;
export type TokenizeErrorCode = keyof typeof TOKENIZE_ERROR_CODES;

/** A tokenization failure; never retriable (a directory refresh or key load is a new call). */
export class TokenizeError extends SealpostError {
  declare readonly code: TokenizeErrorCode;
  constructor(code: TokenizeErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, {
      retriable: false,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
  }
}
