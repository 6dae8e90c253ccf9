import { SealpostError, retriableFrom, type ErrorCodeTable } from '../../errors.js';

/**
 * Every way a KMS call can fail. Retriable codes are the transient ones (network, sealed, rate
 * limit, 5xx); the retry decorator retries only those. Everything else fails closed at once.
 */
export const KMS_ERROR_CODES = {
  KMS_UNAVAILABLE: 'yes',
  KMS_SEALED: 'yes',
  KMS_RATE_LIMITED: 'yes',
  KMS_PERMISSION_DENIED: 'no',
  KMS_AUTH_FAILED: 'no',
  KMS_TLS_FAILED: 'no',
  KMS_KEY_NOT_FOUND: 'no',
  KMS_BAD_CIPHERTEXT: 'no',
  KMS_VERSION_BELOW_MINIMUM: 'no',
  KMS_CONFIG_INVALID: 'no',
  KMS_KEY_FILE_INSECURE: 'no',
  KMS_BAD_RESPONSE: 'no',
  KMS_REQUEST_REJECTED: 'no',
  KMS_CLOSED: 'no',
  /** Raising the minimum decryption version was refused: keys sealpost wrapped are still below it. */
  KMS_REWRAP_INCOMPLETE: 'no',
} as const satisfies ErrorCodeTable;
export type KmsErrorCode = keyof typeof KMS_ERROR_CODES;

/** A typed KMS failure. Messages name the operation and the key name, never a token or key bytes. */
export class KmsError extends SealpostError {
  declare readonly code: KmsErrorCode;
  /** HTTP status when the KMS answered (Transit), for diagnostics. */
  readonly httpStatus: number | undefined;

  constructor(
    code: KmsErrorCode,
    message: string,
    options: { cause?: unknown; httpStatus?: number } = {},
  ) {
    super(code, message, { retriable: retriableFrom(KMS_ERROR_CODES[code]), cause: options.cause });
    this.httpStatus = options.httpStatus;
  }
}

/** True for a KmsError with one of the given codes. */
export function isKmsError(err: unknown, ...codes: KmsErrorCode[]): err is KmsError {
  return err instanceof KmsError && (codes.length === 0 || codes.includes(err.code));
}
