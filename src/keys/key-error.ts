import { SealpostError, type ErrorCodeTable } from '../errors.js';

/** Failures (never retriable) of identities, key files and the key directory (KMS failures are KmsError). */
export const KEY_ERROR_CODES = {
  KEY_BAD_LENGTH: 'no',
  KEY_BAD_ENCODING: 'no',
  KEY_IDENTITY_NAME_INVALID: 'no',
  KEY_FILE_INVALID: 'no',
  KEY_FILE_INSECURE: 'no',
  KEY_FILE_EXISTS: 'no',
  KEY_FILE_NOT_FOUND: 'no',
  KEY_MISMATCH: 'no',
  KEY_KMS_MISMATCH: 'no',
  KEY_NOT_FOUND: 'no',
  KEY_DESTROYED: 'no',
  KEY_CLOSED: 'no',
  KEY_STATE_INVALID: 'no',
} as const satisfies ErrorCodeTable;
export type KeyErrorCode = keyof typeof KEY_ERROR_CODES;

/** A typed key-handling failure. Messages never contain key bytes. Never retriable. */
export class KeyError extends SealpostError {
  declare readonly code: KeyErrorCode;
  constructor(code: KeyErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retriable: false, cause: options.cause });
  }
}
