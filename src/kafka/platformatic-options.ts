/**
 * Options of the @platformatic/kafka adapter and their defaults, resolved once for every client the
 * transport creates.
 */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type {
  AdminOptions,
  ConsumerOptions,
  ProducerOptions,
  SASLOptions,
} from '@platformatic/kafka';
import type { Logger } from 'pino';

/** Options of {@link createPlatformaticTransport} (platformatic-transport.ts). */
export interface PlatformaticTransportOptions {
  /** `host:port` of one or more bootstrap brokers. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** TLS: `true` for the system CAs, or Node TLS options — `{ ca, cert, key }` (PEM) for mTLS. */
  readonly ssl?: boolean | TlsOptions;
  /** SASL (plain, scram-sha-256/512, oauthbearer), passed to @platformatic/kafka as it is. */
  readonly sasl?: SASLOptions;
  readonly connectionTimeoutMs?: number;
  /** How long the client waits for a broker's answer to one request, in ms. Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** How often a failed request is retried by the client before it fails. Default 5 (as kafkajs). */
  readonly retries?: number;
  /**
   * Bound of one produce request's tries, in ms: the producer tries a request at most
   * `floor(deliveryTimeoutMs / requestTimeoutMs)` times (each try waits at most `requestTimeoutMs`
   * for the broker), and never more than `retries + 1` times. Default 90 000: three tries with the
   * default request timeout (docs/TRANSPORTS.md "Under faults").
   */
  readonly deliveryTimeoutMs?: number;
  /** Delay between those retries, in ms. Default 300 (kafkajs's initial retry time). */
  readonly retryDelayMs?: number;
  /** Where the adapter's own warnings go (the client itself logs nothing). */
  readonly logger: Logger;
  /** Raw @platformatic/kafka producer options; they override the port's defaults. */
  readonly producerConfig?: Partial<ProducerOptions<Buffer, Buffer, Buffer, Buffer>>;
  /** Raw @platformatic/kafka consumer options; they override the port's defaults (not groupId). */
  readonly consumerConfig?: Partial<
    Omit<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>, 'groupId'>
  >;
  /** Raw @platformatic/kafka admin options. */
  readonly adminConfig?: Partial<AdminOptions>;
  /** Round-robin start per topic for null keys (pass one drawn from the injected random source). */
  readonly partitionerStart?: (topic: string) => number;
  /** Jitter source in [0, 1) for consumer retry backoff (the injected random source). */
  readonly random?: () => number;
  /** Milliseconds since the epoch (the injected Clock's `nowMs`), for metadata freshness. */
  readonly nowMs: () => number;
}

/** What every client of one transport shares, resolved once. */
export interface PlatformaticClientOptions {
  /** Connection options common to producer, consumer and admin. */
  readonly base: {
    readonly clientId: string;
    readonly bootstrapBrokers: string[];
    readonly retryDelay: number;
    readonly tls?: TlsOptions;
    readonly sasl?: SASLOptions;
    readonly connectTimeout?: number;
    readonly requestTimeout: number;
  };
  /** Retries of consumer and admin requests. */
  readonly retries: number;
  /**
   * The producer client's `retries`: `false` for one try, else at least 2 (an idempotent
   * @platformatic/kafka producer retries forever when `retries` is unset, 0 or 1).
   */
  readonly produceRetries: number | false;
  /** A failed send that took at least this long already waited out a request timeout. */
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly partitionerStart: ((topic: string) => number) | undefined;
  readonly random: (() => number) | undefined;
  readonly producerConfig: Partial<ProducerOptions<Buffer, Buffer, Buffer, Buffer>>;
  readonly consumerConfig: Partial<
    Omit<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>, 'groupId'>
  >;
  readonly adminConfig: Partial<AdminOptions>;
}

/** Resolves the transport options once (see {@link PlatformaticClientOptions}). */
export function resolvePlatformaticOptions(
  options: PlatformaticTransportOptions,
): PlatformaticClientOptions {
  if (options.brokers.length === 0) {
    throw new TypeError('the @platformatic/kafka transport needs at least one broker');
  }
  const tls = options.ssl === true ? {} : options.ssl === false ? undefined : options.ssl;
  const requestTimeout = positiveMs('requestTimeoutMs', options.requestTimeoutMs, 30_000);
  const deliveryTimeout = positiveMs('deliveryTimeoutMs', options.deliveryTimeoutMs, 90_000);
  const retries = options.retries ?? 5;
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw new TypeError('retries of the @platformatic/kafka transport must be an integer >= 0');
  }
  // A request's tries: as many as its request timeouts fit in the delivery timeout, at least one.
  const tries = Math.max(1, Math.min(retries + 1, Math.floor(deliveryTimeout / requestTimeout)));
  return {
    base: {
      clientId: options.clientId,
      bootstrapBrokers: [...options.brokers],
      retryDelay: options.retryDelayMs ?? 300,
      ...(tls === undefined ? {} : { tls }),
      ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
      ...(options.connectionTimeoutMs === undefined
        ? {}
        : { connectTimeout: options.connectionTimeoutMs }),
      requestTimeout,
    },
    retries,
    produceRetries: produceRetries(tries),
    requestTimeoutMs: requestTimeout,
    logger: options.logger,
    nowMs: options.nowMs,
    partitionerStart: options.partitionerStart,
    random: options.random,
    producerConfig: options.producerConfig ?? {},
    consumerConfig: options.consumerConfig ?? {},
    adminConfig: options.adminConfig ?? {},
  };
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`${name} of the @platformatic/kafka transport must be an integer > 0 (ms)`);
  }
  return value;
}

/**
 * The producer client's `retries` for at most `tries` tries of a request. The client spells one try
 * `false`, and an idempotent producer retries forever with `retries` 0 or 1, so two tries become
 * three.
 */
function produceRetries(tries: number): number | false {
  return tries === 1 ? false : Math.max(2, tries - 1);
}
