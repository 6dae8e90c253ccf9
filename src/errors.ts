import type { SealpostErrorCode } from './error-codes.js';

/**
 * Errors in sealpost are a closed set of codes. Every error carries `code` (switch on it, never on
 * the message) and `retriable` (true when the same call may succeed later: a broker, registry or KMS
 * that is briefly unavailable). Messages never contain a payload, a key, a token or plaintext.
 *
 * Each module declares its own subclass with its own table of codes (KMS_ERROR_CODES, ...) so that
 * the codes a caller can see are typed where they arise; all of them extend SealpostError, and
 * src/error-codes.ts gathers the tables into the one closed union SealpostErrorCode (no code is in two
 * tables; docs/API.md "Error codes" lists them all).
 */

/**
 * Whether errors with a code are retriable: always (`yes`), never (`no`), or as decided where the
 * error is raised (`varies`: e.g. the Kafka client's own verdict on an unclassified failure).
 */
export type Retriability = 'yes' | 'no' | 'varies';

/** A family's table of codes: code → whether its errors are retriable. */
export type ErrorCodeTable = Readonly<Record<string, Retriability>>;

/** The retriable flag a code's table implies, or `fallback` when the code's retriability varies. */
export function retriableFrom(retriability: Retriability, fallback = false): boolean {
  return retriability === 'varies' ? fallback : retriability === 'yes';
}

export class SealpostError extends Error {
  /** A stable, machine-readable code from the closed union, e.g. `KMS_UNAVAILABLE`. */
  readonly code: SealpostErrorCode;
  /** True when retrying the same operation later may succeed. */
  readonly retriable: boolean;

  constructor(
    code: SealpostErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/**
 * Invalid configuration (`CONFIG_INVALID`) or a bad argument or option value (`ARGUMENT_INVALID`: the
 * message names the option, never its value when it may be secret). Never retriable.
 */
export const CONFIG_ERROR_CODES = {
  CONFIG_INVALID: 'no',
  ARGUMENT_INVALID: 'no',
} as const satisfies ErrorCodeTable;
export type ConfigErrorCode = keyof typeof CONFIG_ERROR_CODES;

export class ConfigError extends SealpostError {
  declare readonly code: ConfigErrorCode;
  /** Every problem found, so a user can fix them all at once. */
  readonly problems: readonly string[];

  constructor(code: ConfigErrorCode, message: string, problems: readonly string[] = []) {
    super(code, message, { retriable: false });
    this.problems = problems;
  }
}

/** A bad argument or option value: `ConfigError` with `ARGUMENT_INVALID`, naming the option. */
export function invalidArgument(message: string): ConfigError {
  return new ConfigError('ARGUMENT_INVALID', message);
}

/** True for any sealpost error; narrows `unknown` in catch blocks. */
export function isSealpostError(err: unknown): err is SealpostError {
  return err instanceof SealpostError;
}

/**
 * True for a sealpost error with one of the given codes; narrows `code` to them, so a misspelled
 * code fails to compile: `if (hasCode(err, 'KMS_UNAVAILABLE', 'KMS_SEALED')) retryLater()`.
 */
export function hasCode<C extends SealpostErrorCode>(
  err: unknown,
  ...codes: readonly C[]
): err is SealpostError & { readonly code: C } {
  return err instanceof SealpostError && (codes as readonly SealpostErrorCode[]).includes(err.code);
}
