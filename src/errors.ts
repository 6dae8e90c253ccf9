/**
 * Errors in sealpost are a closed set of codes. Every error carries `code` (switch on it, never on
 * the message) and `retriable` (true when the same call may succeed later: a broker, registry or KMS
 * that is briefly unavailable). Messages never contain a payload, a key, a token or plaintext.
 *
 * Each module declares its own subclass with its own code union (EnvelopeError, KmsError, ...) so that
 * the codes a caller can see are typed where they arise; all of them extend SealpostError.
 */
export class SealpostError extends Error {
  /** A stable, machine-readable code, e.g. `KMS_UNAVAILABLE`. */
  readonly code: string;
  /** True when retrying the same operation later may succeed. */
  readonly retriable: boolean;

  constructor(
    code: string,
    message: string,
    options: { retriable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Invalid configuration or arguments supplied by the caller. Never retriable. */
export type ConfigErrorCode = 'CONFIG_INVALID' | 'ARGUMENT_INVALID';

export class ConfigError extends SealpostError {
  declare readonly code: ConfigErrorCode;
  /** Every problem found, so a user can fix them all at once. */
  readonly problems: readonly string[];

  constructor(code: ConfigErrorCode, message: string, problems: readonly string[] = []) {
    super(code, message, { retriable: false });
    this.problems = problems;
  }
}

/** True for any sealpost error; narrows `unknown` in catch blocks. */
export function isSealpostError(err: unknown): err is SealpostError {
  return err instanceof SealpostError;
}
