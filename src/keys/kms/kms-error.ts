import { SealpostError } from '../../errors.js';

/**
 * Every way a KMS call can fail. Retriable codes are the transient ones (network, sealed, rate
 * limit, 5xx); the retry decorator retries only those. Everything else fails closed at once.
 */
export type KmsErrorCode =
  | 'KMS_UNAVAILABLE'
  | 'KMS_SEALED'
  | 'KMS_RATE_LIMITED'
  | 'KMS_PERMISSION_DENIED'
  | 'KMS_AUTH_FAILED'
  | 'KMS_TLS_FAILED'
  | 'KMS_KEY_NOT_FOUND'
  | 'KMS_BAD_CIPHERTEXT'
  | 'KMS_VERSION_BELOW_MINIMUM'
  | 'KMS_CONFIG_INVALID'
  | 'KMS_KEY_FILE_INSECURE'
  | 'KMS_BAD_RESPONSE'
  | 'KMS_REQUEST_REJECTED'
  | 'KMS_CLOSED'
  /** Raising the minimum decryption version was refused: keys sealpost wrapped are still below it. */
  | 'KMS_REWRAP_INCOMPLETE';

const RETRIABLE: ReadonlySet<KmsErrorCode> = new Set<KmsErrorCode>([
  'KMS_UNAVAILABLE',
  'KMS_SEALED',
  'KMS_RATE_LIMITED',
]);

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
    super(code, message, { retriable: RETRIABLE.has(code), cause: options.cause });
    this.httpStatus = options.httpStatus;
  }
}

/** True for a KmsError with one of the given codes. */
export function isKmsError(err: unknown, ...codes: KmsErrorCode[]): err is KmsError {
  return err instanceof KmsError && (codes.length === 0 || codes.includes(err.code));
}
