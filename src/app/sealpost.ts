import type { Logger } from 'pino';
import { envNameOf, invalidConfig, loadConfig, type SealpostConfig } from '../config/config.js';
import { createCryptoProvider } from '../crypto/index.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { platformaticNodeProblem } from '../kafka/platformatic-node-version.js';
import type { Transport } from '../kafka/transport.js';
import type { KeyDirectory } from '../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../keys/identity.js';
import type { Kms } from '../keys/kms/kms.js';
import { createLogger } from '../observability/logger.js';
import type { SealpostTracing } from '../observability/tracing.js';
import { SealedConsumer, type SealedConsumerOptions } from '../pipeline/sealed-consumer.js';
import { SealedProducer } from '../pipeline/sealed-producer.js';
import type { SealedProducerOptions } from '../pipeline/producer/producer-types.js';
import type { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import {
  buildKms,
  buildPlatformaticTransport,
  buildRegistry,
  buildTransport,
  DIRECTORY_CLIENT_ID,
  identitySourceOf,
  openServiceKeys,
  suitePolicyOf,
} from './compose.js';

/** What `createSealpost` builds the service from. */
export interface CreateSealpostOptions {
  /**
   * Environment variables, usually `process.env`: the same names the CLI and the workers read
   * (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, SEALPOST_IDENTITY_FILE, SEALPOST_AUTHORITY_PUBLIC_KEY,
   * SEALPOST_KMS, ... — docs/OPERATIONS.md), validated by the one configuration schema.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A JSON file with the same settings (the environment wins). Default: `env.SEALPOST_CONFIG`. */
  readonly configFile?: string;
  /** Resolves a relative `configFile`. Default: the working directory. */
  readonly cwd?: string;
  /** A pino logger for the Kafka client and the pipeline. Default: pino at SEALPOST_LOG_LEVEL. */
  readonly logger?: Logger;
  /** Default: `await createCryptoProvider()`. */
  readonly crypto?: CryptoProvider;
  /** Default: `systemClock`. */
  readonly clock?: Clock;
  /**
   * The Kafka client of the service's producers and consumers: `kafkajs` (default) or `platformatic`
   * (@platformatic/kafka, an optional peer dependency loaded only when chosen; docs/TRANSPORTS.md).
   * The key directory's follower (the directory topic) runs on the same client.
   */
  readonly kafkaClient?: 'kafkajs' | 'platformatic';
  /**
   * Tracing for every producer and consumer made here (`await loadTracing()`; docs/TRACING.md), unless
   * a `producer()`/`consumer()` call passes its own `tracing`. Default: none (untraced).
   */
  readonly tracing?: SealpostTracing;
}

/** What the factories fill in: the service's identity, directory, clients and defaults. */
type Provided = 'transport' | 'registry' | 'crypto' | 'clock' | 'identity' | 'directory';

/** `sp.producer(options)`: every SealedProducer option except the ones the service provides. */
export type SealpostProducerOptions = Omit<SealedProducerOptions, Provided>;

/**
 * `sp.consumer(options)`: every SealedConsumer option except the ones the service provides;
 * `stateTopic` and `deadLetterTopic` default to SEALPOST_STATE_TOPIC and SEALPOST_DEAD_LETTER_TOPIC.
 */
export type SealpostConsumerOptions = Omit<
  SealedConsumerOptions,
  Provided | 'kms' | 'stateTopic' | 'deadLetterTopic'
> &
  Partial<Pick<SealedConsumerOptions, 'stateTopic' | 'deadLetterTopic'>>;

/** One service's sealpost, built from its configuration by {@link createSealpost}. */
export interface Sealpost {
  /** The validated configuration. */
  readonly config: SealpostConfig;
  /** The service's identity (SEALPOST_IDENTITY_FILE), unwrapped once through the KMS. */
  readonly identity: LoadedIdentity;
  /** The authority-signed key directory, refreshed (and followed, for the topic) in the background. */
  readonly directory: KeyDirectory;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly kms: Kms;
  readonly transport: Transport;
  readonly registry: SchemaRegistryClient;
  /** A connected SealedProducer that seals as the service's identity (and reloads it after a rotation). */
  producer(options?: SealpostProducerOptions): Promise<SealedProducer>;
  /** A SealedConsumer that opens as the service's identity; start it with `run({ eachMessage })`. */
  consumer(options: SealpostConsumerOptions): SealedConsumer;
  /** Closes every producer and consumer made here, stops the directory refresh and zeroes the keys. */
  close(): Promise<void>;
}

/** What a service cannot run without (checked together, before anything is built). */
const REQUIRED = [
  'identityFile',
  'authorityPublicKey',
  'kafkaBrokers',
  'schemaRegistryUrl',
] as const satisfies readonly (keyof SealpostConfig)[];

/**
 * Builds a service's sealpost from the same validated configuration the CLI and the workers use
 * (src/config/config.ts; built by src/app/compose.ts): the KMS, the identity, the key directory, the
 * Kafka transport and the Schema Registry client. `producer()` and `consumer()` then need only the
 * options of the application (topics, schemas, group). docs/API.md "One-call setup".
 */
export async function createSealpost(options: CreateSealpostOptions): Promise<Sealpost> {
  const env =
    options.configFile === undefined
      ? options.env
      : { ...options.env, SEALPOST_CONFIG: options.configFile };
  const config = loadConfig(env, options.cwd === undefined ? {} : { cwd: options.cwd });
  const missing = REQUIRED.filter((key) => config[key] === undefined).map(
    (key) => `${envNameOf(key)}: required by createSealpost`,
  );
  // Checked before anything is opened: @platformatic/kafka fails only at its first request otherwise.
  const unsupported =
    options.kafkaClient === 'platformatic' ? platformaticNodeProblem() : undefined;
  if (unsupported !== undefined) missing.push(`kafkaClient "platformatic": ${unsupported}`);
  if (missing.length > 0) throw invalidConfig(missing);
  const crypto = options.crypto ?? (await createCryptoProvider());
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel, name: 'sealpost' });
  const kms = await buildKms(config, { crypto, clock });
  let service: Awaited<ReturnType<typeof openServiceKeys>>;
  try {
    // On @platformatic/kafka the directory follows its topic on that client too (no kafkajs client).
    const directoryTransport =
      options.kafkaClient === 'platformatic' && config.directoryFile === undefined
        ? await buildPlatformaticTransport(config, {
            logger: createLogger({ level: 'silent' }),
            clock,
            clientId: DIRECTORY_CLIENT_ID,
          })
        : undefined;
    service = await openServiceKeys(config, {
      crypto,
      clock,
      kms,
      onRefreshError: (err) =>
        logger.warn({ code: (err as { code?: string }).code }, 'directory refresh failed'),
      ...(directoryTransport === undefined ? {} : { directoryTransport }),
    });
  } catch (err) {
    await kms.close();
    throw err;
  }
  let transport: Transport;
  try {
    transport =
      options.kafkaClient === 'platformatic'
        ? await buildPlatformaticTransport(config, { logger, clock })
        : buildTransport(config, { logger, clock });
  } catch (err) {
    service.close();
    await kms.close();
    throw err;
  }
  const registry = buildRegistry(config);
  const identitySource = identitySourceOf(config, { crypto, kms });
  const producers = new Set<SealedProducer>();
  const consumers = new Set<SealedConsumer>();
  let closed = false;
  const provided = {
    transport,
    registry,
    crypto,
    clock,
    identity: service.identity,
    directory: service.directory,
    identitySource,
    logger,
    // The envelope suite per topic (SEALPOST_SUITE_POLICY, SEALPOST_CLASSICAL_OPENS_SUITE2).
    suitePolicy: suitePolicyOf(config),
    ...(options.tracing === undefined ? {} : { tracing: options.tracing }),
  };
  return {
    config,
    identity: service.identity,
    directory: service.directory,
    crypto,
    clock,
    kms,
    transport,
    registry,
    async producer(producerOptions = {}) {
      const producer = new SealedProducer({ ...provided, ...producerOptions });
      producers.add(producer);
      await producer.connect();
      return producer;
    },
    consumer(consumerOptions) {
      const consumer = new SealedConsumer({
        ...provided,
        kms,
        stateTopic: config.stateTopic,
        deadLetterTopic: config.deadLetterTopic,
        ...consumerOptions,
        consumerOptions: {
          sessionTimeoutMs: config.consumerSessionTimeoutMs,
          ...consumerOptions.consumerOptions,
        },
      });
      consumers.add(consumer);
      return consumer;
    },
    async close() {
      if (closed) return;
      closed = true;
      const results = await Promise.allSettled([
        ...[...consumers].map((c) => c.close()),
        ...[...producers].map((p) => p.close()),
      ]);
      service.close();
      await kms.close();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  };
}
