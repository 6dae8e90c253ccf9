/**
 * Maps @platformatic/kafka errors to TransportErrors with the same codes the kafkajs adapter gives
 * (transport-error.ts). @platformatic/kafka reports a broker's answer as a ProtocolError whose
 * `apiId` is the Kafka protocol error name (inside a ResponseError or MultipleErrors when several
 * requests or retries failed), a connection problem as a NetworkError or TimeoutError, a SASL/TLS
 * failure as an AuthenticationError.
 */
import { fromKafkaErrorName } from './kafka-error-names.js';
import { TransportError } from './transport-error.js';

interface PlatformaticLikeError {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly apiId?: unknown;
  readonly canRetry?: unknown;
  readonly errors?: unknown;
  readonly cause?: unknown;
}

function asLike(err: unknown): PlatformaticLikeError {
  return typeof err === 'object' && err !== null ? err : {};
}

/** Every error in the tree (depth first: the error, its `errors`, its `cause`), bounded. */
function flatten(err: unknown): unknown[] {
  const out: unknown[] = [];
  const stack: unknown[] = [err];
  while (stack.length > 0 && out.length < 64) {
    const e = stack.shift();
    if (e === undefined || e === null || out.includes(e)) continue;
    out.push(e);
    const like = asLike(e);
    if (Array.isArray(like.errors)) stack.push(...(like.errors as unknown[]));
    if (like.cause !== undefined) stack.push(like.cause);
  }
  return out;
}

/** The first Kafka protocol error name in the tree, if any. */
export function protocolErrorName(err: unknown): string | undefined {
  for (const e of flatten(err)) {
    const apiId = asLike(e).apiId;
    if (typeof apiId === 'string') return apiId;
  }
  return undefined;
}

/**
 * Maps anything @platformatic/kafka threw to a TransportError (a TransportError passes through).
 * Messages carry the client's own text (broker addresses, error names), never record contents.
 */
export function toTransportError(err: unknown, context: string): TransportError {
  if (err instanceof TransportError) return err;
  const all = flatten(err);
  const top = asLike(err);
  const message = `${context}: ${typeof top.message === 'string' ? top.message : String(err)}`;
  const nested = all.find((e) => e instanceof TransportError);
  if (nested instanceof TransportError) return nested;
  const apiId = protocolErrorName(err);
  if (apiId !== undefined) {
    const protocol = all.find((e) => asLike(e).apiId === apiId);
    const { code, retriable } = fromKafkaErrorName(apiId, asLike(protocol).canRetry === true);
    return new TransportError(code, `${message} (${apiId})`, {
      retriable,
      cause: err,
      brokerErrorType: apiId,
    });
  }
  const codes = all.map((e) => asLike(e).code).filter((c): c is string => typeof c === 'string');
  // A metadata request for a topic the cluster does not have fails on the client's side, as a user
  // error ("Unknown topic <name>."), when automatic topic creation is off.
  if (
    all.some(
      (e) => asLike(e).code === 'PLT_KFK_USER' && /^Unknown topic/.test(String(asLike(e).message)),
    )
  ) {
    return new TransportError('TOPIC_NOT_FOUND', message, { retriable: true, cause: err });
  }
  if (codes.includes('PLT_KFK_AUTHENTICATION')) {
    return new TransportError('AUTHENTICATION_FAILED', message, { retriable: false, cause: err });
  }
  if (codes.includes('PLT_KFK_NETWORK') || codes.includes('PLT_KFK_TIMEOUT')) {
    return new TransportError('BROKER_UNAVAILABLE', message, { retriable: true, cause: err });
  }
  if (codes.includes('PLT_KFK_UNSUPPORTED_API') || codes.includes('PLT_KFK_UNSUPPORTED')) {
    return new TransportError('UNSUPPORTED_VERSION', message, { retriable: false, cause: err });
  }
  // Node's own socket errors (ECONNREFUSED, ECONNRESET, ...) when the client passed one through.
  if (codes.some((c) => c.startsWith('ECONN') || c === 'ETIMEDOUT' || c === 'EPIPE')) {
    return new TransportError('BROKER_UNAVAILABLE', message, { retriable: true, cause: err });
  }
  return new TransportError('TRANSPORT_FAILED', message, {
    retriable: all.some((e) => asLike(e).canRetry === true),
    cause: err,
  });
}

/**
 * A send's error marked `exhausted` when its tries took at least one request timeout in all: the
 * client already retried it as often as the delivery timeout allows (platformatic-options.ts), so
 * a caller that repeated it at once would only repeat the wait (docs/TRANSPORTS.md "Under faults").
 */
export function exhaustedAfter(
  err: TransportError,
  elapsedMs: number,
  requestTimeoutMs: number,
): TransportError {
  if (err.exhausted || elapsedMs < requestTimeoutMs) return err;
  return new TransportError(err.code, err.message, {
    retriable: err.retriable,
    cause: err.cause,
    exhausted: true,
    ...(err.brokerErrorType === undefined ? {} : { brokerErrorType: err.brokerErrorType }),
  });
}

/** Runs `call`, mapping what it throws (see {@link toTransportError}). */
export async function mapped<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toTransportError(err, context);
  }
}
