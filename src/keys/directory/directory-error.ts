import { SealpostError } from '../../errors.js';

/** Why a directory snapshot, record or head was refused. */
export type DirectoryErrorCode =
  | 'DIRECTORY_MALFORMED'
  | 'DIRECTORY_WRONG_AUTHORITY'
  | 'DIRECTORY_BAD_SIGNATURE'
  | 'DIRECTORY_HEAD_EXPIRED'
  | 'DIRECTORY_HEAD_MISSING'
  | 'DIRECTORY_HEAD_FROM_FUTURE'
  | 'DIRECTORY_ROLLBACK'
  | 'DIRECTORY_EQUIVOCATION'
  | 'DIRECTORY_SERIAL_ABOVE_HEAD'
  | 'DIRECTORY_TOMBSTONE'
  | 'DIRECTORY_DUPLICATE_KID'
  | 'DIRECTORY_KID_MISMATCH'
  | 'DIRECTORY_LOW_ORDER_KEY'
  | 'DIRECTORY_INVALID_ED25519_KEY'
  | 'DIRECTORY_INCOMPLETE'
  | 'DIRECTORY_NOT_LOADED'
  | 'DIRECTORY_SOURCE_UNAVAILABLE'
  /** The service's directory state file is unreadable, malformed, edited or readable by others. */
  | 'DIRECTORY_STATE_INVALID'
  /** The service's directory state file could not be written (the snapshot was still adopted). */
  | 'DIRECTORY_STATE_UNWRITABLE';

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
      retriable: code === 'DIRECTORY_SOURCE_UNAVAILABLE',
      cause: options.cause,
    });
    this.recordKey = options.recordKey;
    this.refused = options.refused ?? [];
  }
}
