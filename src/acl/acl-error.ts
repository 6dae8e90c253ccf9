import { SealpostError } from '../errors.js';

/** Why an ACL operation was refused before talking to the broker. */
export type AclErrorCode = 'ACL_INPUT_INVALID';

/** A planning failure (bad identity name, topic pattern or convention); never retriable. */
export class AclError extends SealpostError {
  declare readonly code: AclErrorCode;
  constructor(code: AclErrorCode, message: string) {
    super(code, message, { retriable: false });
  }
}
