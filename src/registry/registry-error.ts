import { SealpostError, retriableFrom, type ErrorCodeTable } from '../errors.js';

/**
 * Codes of Schema Registry failures.
 * - `REGISTRY_UNAVAILABLE` (retriable): connection refused/reset, timeout, HTTP 5xx, 408 or 429.
 *   The pipeline pauses and retries; it never dead-letters on this.
 * - `SCHEMA_NOT_FOUND`: the registry does not know the schema id (permanent for that id).
 * - `SUBJECT_NOT_FOUND`: the subject (or its version) does not exist.
 * - `SCHEMA_INCOMPATIBLE`: registering was refused by the subject's compatibility rule (HTTP 409).
 * - `SCHEMA_REJECTED`: the registry refused the schema as invalid (HTTP 422).
 * - `REGISTRY_UNAUTHORIZED`: HTTP 401 or 403.
 * - `REGISTRY_RESPONSE_INVALID`: an answer that is not the Confluent API's shape, or too large.
 * - `REGISTRY_REQUEST_FAILED`: any other HTTP 4xx.
 */
export const REGISTRY_ERROR_CODES = {
  REGISTRY_UNAVAILABLE: 'yes',
  SCHEMA_NOT_FOUND: 'no',
  SUBJECT_NOT_FOUND: 'no',
  SCHEMA_INCOMPATIBLE: 'no',
  SCHEMA_REJECTED: 'no',
  REGISTRY_UNAUTHORIZED: 'no',
  REGISTRY_RESPONSE_INVALID: 'no',
  REGISTRY_REQUEST_FAILED: 'no',
} as const satisfies ErrorCodeTable;
export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

/** A Schema Registry failure. Messages name the operation, subject or id and status, never schemas' data. */
export class RegistryError extends SealpostError {
  declare readonly code: RegistryErrorCode;
  /** HTTP status when the registry answered. */
  readonly status: number | undefined;
  /** The Confluent `error_code` from the answer body, when present (e.g. 40403). */
  readonly registryErrorCode: number | undefined;

  constructor(
    code: RegistryErrorCode,
    message: string,
    options: { status?: number; registryErrorCode?: number; cause?: unknown } = {},
  ) {
    super(code, message, {
      retriable: retriableFrom(REGISTRY_ERROR_CODES[code]),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.status = options.status;
    this.registryErrorCode = options.registryErrorCode;
  }
}
