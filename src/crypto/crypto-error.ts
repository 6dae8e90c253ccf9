import { SealpostError, type ErrorCodeTable } from '../errors.js';

/**
 * Codes a crypto provider can raise (never retriable). Verification and decryption failures are not
 * errors (they return false/null); these codes mean the caller passed something unusable or the
 * provider cannot run.
 */
export const CRYPTO_ERROR_CODES = {
  /** A key, nonce, signature, context, output buffer or input has the wrong size. */
  CRYPTO_BAD_LENGTH: 'no',
  /** An argument of the right size but an unusable value (e.g. a non-integer KDF subkey id). */
  CRYPTO_BAD_ARGUMENT: 'no',
  /** A public key of small order: any shared secret with it is all zero, so it is refused. */
  CRYPTO_LOW_ORDER_KEY: 'no',
  /** A hash state used after final() without reset(). */
  CRYPTO_BAD_STATE: 'no',
  /** The requested provider could not be loaded (native addon missing, WebAssembly failed). */
  CRYPTO_PROVIDER_UNAVAILABLE: 'no',
} as const satisfies ErrorCodeTable;
export type CryptoErrorCode = keyof typeof CRYPTO_ERROR_CODES;

/** A typed crypto failure. Never retriable; messages name the argument and sizes, never its bytes. */
export class CryptoError extends SealpostError {
  declare readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retriable: false, ...options });
  }
}

/** True for a CryptoError, optionally with the given code. */
export function isCryptoError(err: unknown, code?: CryptoErrorCode): err is CryptoError {
  return err instanceof CryptoError && (code === undefined || err.code === code);
}
