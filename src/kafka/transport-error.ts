import { SealpostError, retriableFrom, type ErrorCodeTable } from '../errors.js';

/**
 * Codes a transport call can fail with, and whether they are retriable. Switch on `code`; `retriable`
 * says whether the same call may succeed later (a broker that is briefly unavailable, a rebalance in
 * progress).
 */
export const TRANSPORT_ERROR_CODES = {
  /** No broker reachable, connection refused or closed, request timed out. Retriable. */
  BROKER_UNAVAILABLE: 'yes',
  /** Leader moved, metadata stale, coordinator loading: the client retries internally, then this. */
  BROKER_BUSY: 'yes',
  /** The group is rebalancing or this member's generation is stale: rejoin and retry. */
  REBALANCE_IN_PROGRESS: 'yes',
  /** The topic or partition does not exist (retriable when it may be being created). */
  TOPIC_NOT_FOUND: 'varies',
  /** createTopics: the topic exists already. */
  TOPIC_ALREADY_EXISTS: 'no',
  /** TLS or SASL handshake failed. */
  AUTHENTICATION_FAILED: 'no',
  /** The principal is not allowed to do this (topic, group or cluster ACL). */
  AUTHORIZATION_FAILED: 'no',
  /** A record or batch is larger than the broker accepts. */
  RECORD_TOO_LARGE: 'no',
  /** The commit metadata string is longer than the broker's `offset.metadata.max.bytes`. */
  OFFSET_METADATA_TOO_LARGE: 'no',
  /**
   * A version the client needs is missing: a request version the broker does not support, or (the
   * @platformatic/kafka adapter) a Node runtime older than the client needs.
   */
  UNSUPPORTED_VERSION: 'no',
  /** Arguments the transport refuses before talking to a broker (bad partition, negative offset). */
  INVALID_ARGUMENT: 'no',
  /** The client is not connected or the consumer is not running yet (retriable in the latter case). */
  NOT_CONNECTED: 'varies',
  /** Anything else the client reported. `retriable` is the client's own verdict. */
  TRANSPORT_FAILED: 'varies',
} as const satisfies ErrorCodeTable;
export type TransportErrorCode = keyof typeof TRANSPORT_ERROR_CODES;

/** A failure of the Kafka transport, mapped from the client library's error. */
export class TransportError extends SealpostError {
  declare readonly code: TransportErrorCode;
  /** The broker's protocol error name when there was one (e.g. `NOT_LEADER_FOR_PARTITION`). */
  readonly brokerErrorType: string | undefined;
  /**
   * True when the transport already retried the call for as long as its own timeouts allow (a send
   * whose tries waited out at least one request timeout): repeating the call at once would repeat
   * that wait, so a caller that retries reports the failure instead. The call may still succeed
   * later (`retriable` is unchanged), e.g. the application's `resend`.
   */
  readonly exhausted: boolean;

  constructor(
    code: TransportErrorCode,
    message: string,
    options: {
      retriable?: boolean;
      cause?: unknown;
      brokerErrorType?: string;
      exhausted?: boolean;
    } = {},
  ) {
    super(code, message, {
      retriable: retriableFrom(TRANSPORT_ERROR_CODES[code], options.retriable),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.brokerErrorType = options.brokerErrorType;
    this.exhausted = options.exhausted ?? false;
  }
}

/** True for a TransportError; narrows `unknown` in catch blocks. */
export function isTransportError(err: unknown): err is TransportError {
  return err instanceof TransportError;
}
