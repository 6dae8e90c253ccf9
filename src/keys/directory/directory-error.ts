import { SealpostError, retriableFrom, type ErrorCodeTable } from '../../errors.js';

/** Why a directory snapshot, record or head was refused. */
export const DIRECTORY_ERROR_CODES = {
  DIRECTORY_MALFORMED: 'no',
  DIRECTORY_WRONG_AUTHORITY: 'no',
  DIRECTORY_BAD_SIGNATURE: 'no',
  DIRECTORY_HEAD_EXPIRED: 'no',
  DIRECTORY_HEAD_MISSING: 'no',
  DIRECTORY_HEAD_FROM_FUTURE: 'no',
  DIRECTORY_ROLLBACK: 'no',
  DIRECTORY_EQUIVOCATION: 'no',
  DIRECTORY_SERIAL_ABOVE_HEAD: 'no',
  DIRECTORY_TOMBSTONE: 'no',
  DIRECTORY_DUPLICATE_KID: 'no',
  DIRECTORY_KID_MISMATCH: 'no',
  DIRECTORY_LOW_ORDER_KEY: 'no',
  DIRECTORY_INVALID_ED25519_KEY: 'no',
  /** An X-Wing public key (suite 2) that fails its checks (ML-KEM modulus check, X25519 part). */
  DIRECTORY_INVALID_XWING_KEY: 'no',
  DIRECTORY_INCOMPLETE: 'no',
  DIRECTORY_NOT_LOADED: 'no',
  DIRECTORY_SOURCE_UNAVAILABLE: 'yes',
  /** The service's directory state file is unreadable, malformed, edited or readable by others. */
  DIRECTORY_STATE_INVALID: 'no',
  /** The service's directory state file could not be written (the snapshot was still adopted). */
  DIRECTORY_STATE_UNWRITABLE: 'no',
} as const satisfies ErrorCodeTable;
export type DirectoryErrorCode = keyof typeof DIRECTORY_ERROR_CODES;

/** A refused directory. Only DIRECTORY_SOURCE_UNAVAILABLE is retriable (a file or topic briefly unreadable). */
export class DirectoryError extends SealpostError {
  declare readonly code: DirectoryErrorCode;
  /** The record key concerned, when the failure is about one record. */
  readonly recordKey: string | undefined;
  /** Entries refused on the way (why a snapshot came out incomplete). */
  readonly refused: readonly { readonly key: string; readonly code: DirectoryErrorCode }[];

  constructor(
    code: DirectoryErrorCode,
    message: string,
    options: {
      recordKey?: string;
      cause?: unknown;
      refused?: readonly { key: string; code: DirectoryErrorCode }[];
    } = {},
  ) {
    super(code, message, {
      retriable: retriableFrom(DIRECTORY_ERROR_CODES[code]),
      cause: options.cause,
    });
    this.recordKey = options.recordKey;
    this.refused = options.refused ?? [];
  }
}
