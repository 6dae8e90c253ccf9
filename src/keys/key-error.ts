import { SealpostError } from '../errors.js';

/** Failures of identities, key files and the key directory (KMS failures are KmsError). */
export type KeyErrorCode =
  | 'KEY_BAD_LENGTH'
  | 'KEY_BAD_ENCODING'
  | 'KEY_IDENTITY_NAME_INVALID'
  | 'KEY_FILE_INVALID'
  | 'KEY_FILE_INSECURE'
  | 'KEY_FILE_EXISTS'
  | 'KEY_FILE_NOT_FOUND'
  | 'KEY_MISMATCH'
  | 'KEY_KMS_MISMATCH'
  | 'KEY_NOT_FOUND'
  | 'KEY_DESTROYED'
  | 'KEY_CLOSED'
  | 'KEY_STATE_INVALID';

/** A typed key-handling failure. Messages never contain key bytes. Never retriable. */
export class KeyError extends SealpostError {
  declare readonly code: KeyErrorCode;
  constructor(code: KeyErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retriable: false, cause: options.cause });
  }
}
