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
  readonly requestTimeoutMs?: number;
  /** How often a failed request is retried by the client before it fails. Default 5 (as kafkajs). */
  readonly retries?: number;
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
    readonly requestTimeout?: number;
  };
  readonly retries: number;
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
      ...(options.requestTimeoutMs === undefined
        ? {}
        : { requestTimeout: options.requestTimeoutMs }),
    },
    retries: options.retries ?? 5,
    logger: options.logger,
    nowMs: options.nowMs,
    partitionerStart: options.partitionerStart,
    random: options.random,
    producerConfig: options.producerConfig ?? {},
    consumerConfig: options.consumerConfig ?? {},
    adminConfig: options.adminConfig ?? {},
  };
}
