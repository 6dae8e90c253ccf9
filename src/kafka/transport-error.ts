import { SealpostError } from '../errors.js';

/**
 * Codes a transport call can fail with. Switch on `code`; `retriable` says whether the same call may
 * succeed later (a broker that is briefly unavailable, a rebalance in progress).
 */
export type TransportErrorCode =
  /** No broker reachable, connection refused or closed, request timed out. Retriable. */
  | 'BROKER_UNAVAILABLE'
  /** Leader moved, metadata stale, coordinator loading: the client retries internally, then this. */
  | 'BROKER_BUSY'
  /** The group is rebalancing or this member's generation is stale: rejoin and retry. */
  | 'REBALANCE_IN_PROGRESS'
  /** The topic or partition does not exist. */
  | 'TOPIC_NOT_FOUND'
  /** createTopics: the topic exists already. */
  | 'TOPIC_ALREADY_EXISTS'
  /** TLS or SASL handshake failed. */
  | 'AUTHENTICATION_FAILED'
  /** The principal is not allowed to do this (topic, group or cluster ACL). */
  | 'AUTHORIZATION_FAILED'
  /** A record or batch is larger than the broker accepts. */
  | 'RECORD_TOO_LARGE'
  /** The commit metadata string is longer than the broker's `offset.metadata.max.bytes`. */
  | 'OFFSET_METADATA_TOO_LARGE'
  /** The broker does not support a request version the client needs. */
  | 'UNSUPPORTED_VERSION'
  /** Arguments the transport refuses before talking to a broker (bad partition, negative offset). */
  | 'INVALID_ARGUMENT'
  /** The client is not connected or the consumer is not running yet. */
  | 'NOT_CONNECTED'
  /** Anything else the client reported. `retriable` is the client's own verdict. */
  | 'TRANSPORT_FAILED';

/** A failure of the Kafka transport, mapped from the client library's error. */
export class TransportError extends SealpostError {
  declare readonly code: TransportErrorCode;
  /** The broker's protocol error name when there was one (e.g. `NOT_LEADER_FOR_PARTITION`). */
  readonly brokerErrorType: string | undefined;

  constructor(
    code: TransportErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown; brokerErrorType?: string } = {},
  ) {
    super(code, message, {
      retriable: options.retriable ?? false,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.brokerErrorType = options.brokerErrorType;
  }
}

/** True for a TransportError; narrows `unknown` in catch blocks. */
export function isTransportError(err: unknown): err is TransportError {
  return err instanceof TransportError;
}
