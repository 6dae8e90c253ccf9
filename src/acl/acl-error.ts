import { SealpostError, type ErrorCodeTable } from '../errors.js';

/** Why an ACL operation was refused before talking to the broker. */
export const ACL_ERROR_CODES = {
  /** Bad identity name, topic pattern or convention. */
  ACL_INPUT_INVALID: 'no',
} as const satisfies ErrorCodeTable;
export type AclErrorCode = keyof typeof ACL_ERROR_CODES;

/** applyAcls: the applied bindings did not all become visible within the settle checks. */
export const ACL_NOT_SETTLED_ERROR_CODES = {
  ACL_NOT_SETTLED: 'yes',
} as const satisfies ErrorCodeTable;

/** A planning failure (bad identity name, topic pattern or convention); never retriable. */
export class AclError extends SealpostError {
  declare readonly code: AclErrorCode;
  constructor(code: AclErrorCode, message: string) {
    super(code, message, { retriable: false });
  }
}
