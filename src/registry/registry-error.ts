import { SealpostError } from '../errors.js';

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
export type RegistryErrorCode =
  | 'REGISTRY_UNAVAILABLE'
  | 'SCHEMA_NOT_FOUND'
  | 'SUBJECT_NOT_FOUND'
  | 'SCHEMA_INCOMPATIBLE'
  | 'SCHEMA_REJECTED'
  | 'REGISTRY_UNAUTHORIZED'
  | 'REGISTRY_RESPONSE_INVALID'
  | 'REGISTRY_REQUEST_FAILED';

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
      retriable: code === 'REGISTRY_UNAVAILABLE',
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.status = options.status;
    this.registryErrorCode = options.registryErrorCode;
  }
}
