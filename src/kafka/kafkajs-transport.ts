/**
 * The kafkajs adapter of the transport port — the only file that imports kafkajs. kafkajs options pass through (TLS/mTLS via `ssl: { ca, cert, key }`, SASL via `sasl`, and
 * raw `kafkaConfig` / `producerConfig` / `consumerConfig` overrides). Defaults: idempotent producer,
 * acks=all, gzip batches, no auto-commit, no auto-resolve, kafkajs logs routed to pino.
 */
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
// Evaluated before kafkajs loads: give kafkajs' producer a native CRC32C, a linear grouping of a
// send's messages by partition and a linear produce-request encoding, and its consumer a linear
// decoding of fetched record batches (see those modules).
import './kafkajs-crc32c.js';
import { kafkajsGrouping } from './kafkajs-grouping.js';
import './kafkajs-produce-encoding.js';
import './kafkajs-fetch-decoding.js';
import kafkajs from 'kafkajs';
import type {
  Admin,
  CompressionTypes as KafkajsCompression,
  Kafka as KafkaClient,
  Consumer,
  ConsumerConfig,
  IHeaders,
  KafkaConfig,
  LogEntry,
  Message,
  Producer,
  ProducerConfig,
  SASLOptions,
} from 'kafkajs';
import type { Logger } from 'pino';
import { aclsFromWire, aclToWire, type AclBinding } from './acl-binding.js';
import { DefaultPartitioner } from './default-partitioner.js';
import { fromKafkaErrorName } from './kafka-error-names.js';
import { toConsumedBatch } from './kafkajs-records.js';
import { MembershipLease } from './membership-lease.js';
import { messageLoop } from './message-loop.js';
import { checkOffset, checkPartition } from './offset-checks.js';
import { PartitionBackoff } from './partition-backoff.js';
import type {
  BatchControl,
  CommittedOffset,
  ConsumerCrash,
  ConsumerRunOptions,
  OffsetCommit,
  PartitionInfo,
  PartitionOffsets,
  ProduceAck,
  ProduceRequest,
  TopicDescription,
  TopicPartition,
  TopicSpec,
  Transport,
  TransportAdmin,
  TransportConsumer,
  TransportConsumerOptions,
  TransportHeader,
  TransportProducer,
  TransportProducerOptions,
} from './transport.js';
import { TransportError } from './transport-error.js';

const {
  Kafka,
  CompressionTypes,
  ConfigResourceTypes,
  logLevel,
  Partitioners,
  AclResourceTypes,
  AclOperationTypes,
  AclPermissionTypes,
  ResourcePatternTypes,
} = kafkajs;

/** Options of {@link createKafkajsTransport}. */
export interface KafkajsTransportOptions {
  /** `host:port` of one or more bootstrap brokers. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /**
   * TLS: `true` for the system CAs, or Node TLS options — `{ ca, cert, key }` (PEM) for mTLS,
   * `servername`, `rejectUnauthorized` ... passed to kafkajs as they are.
   */
  readonly ssl?: boolean | ConnectionOptions;
  /** SASL (plain, scram-sha-256/512, aws, oauthbearer), passed to kafkajs as it is. */
  readonly sasl?: SASLOptions;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Where kafkajs's own logs go (its levels mapped to pino's). */
  readonly logger: Logger;
  /** Raw kafkajs client options; they override the ones above. */
  readonly kafkaConfig?: Partial<KafkaConfig>;
  /** Raw kafkajs producer options; they override the port's defaults. */
  readonly producerConfig?: Partial<ProducerConfig>;
  /** Raw kafkajs consumer options; they override the port's defaults (not groupId). */
  readonly consumerConfig?: Partial<Omit<ConsumerConfig, 'groupId'>>;
  /** Round-robin start per topic for null keys (pass one drawn from the injected random source). */
  readonly partitionerStart?: (topic: string) => number;
  /** Jitter source in [0, 1) for consumer retry backoff (the injected random source). */
  readonly random?: () => number;
  /** Milliseconds since the epoch (the injected Clock's `nowMs`), for metadata freshness. */
  readonly nowMs: () => number;
}

/** Whether the process was told that kafkajs was loaded before sealpost (once per process). */
let loadOrderWarned = false;

/** Builds a Transport backed by kafkajs. */
export function createKafkajsTransport(options: KafkajsTransportOptions): Transport {
  if (
    !loadOrderWarned &&
    kafkajsGrouping.kind === 'kafkajs' &&
    kafkajsGrouping.reason === 'kafkajs grouping already loaded'
  ) {
    // kafkajs loads its grouping and request encoding with its entry point: imported before sealpost,
    // it keeps its own (correct, slower; docs/TRANSPORTS.md "Load sealpost before kafkajs").
    loadOrderWarned = true;
    options.logger.warn(
      'kafkajs was loaded before sealpost: its own producer grouping and request encoding stay in use (slower); import sealpost first',
    );
  }
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    ...(options.connectionTimeoutMs === undefined
      ? {}
      : { connectionTimeout: options.connectionTimeoutMs }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeout: options.requestTimeoutMs }),
    logLevel: logLevel.INFO,
    logCreator: pinoLogCreator(options.logger),
    ...options.kafkaConfig,
  });
  return {
    producer: (producerOptions = {}) => new KafkajsProducer(kafka, options, producerOptions),
    consumer: (consumerOptions) => new KafkajsConsumer(kafka, options, consumerOptions),
    admin: () => new KafkajsAdmin(kafka.admin()),
  };
}

// ---------------------------------------------------------------------------------------------------
// Logging

/** The messages of the Kafka protocol errors kafkajs marks retriable (its own error table). */
const RETRIABLE_PROTOCOL_MESSAGES: ReadonlySet<string> = new Set(
  (
    createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      errorCodes: readonly { readonly retriable: boolean; readonly message: string }[];
    }
  ).errorCodes
    .filter((e) => e.retriable)
    .map((e) => e.message),
);

/**
 * Routes kafkajs log entries to pino at the matching level. kafkajs log entries carry broker
 * addresses, client ids, error messages and stacks — never record contents — and are passed on as
 * structured fields (pino's redaction still applies).
 */
export function pinoLogCreator(logger: Logger): (level: number) => (entry: LogEntry) => void {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, ...extra } = log;
      const fields = { kafkajs: namespace, ...extra };
      // A retriable broker condition (coordinator loading or moving, leader election, rebalance) is
      // retried by kafkajs itself; what outlasts its retries reaches us as an error or crash that we
      // report. Logged as errors, these read as failures on every start-up: they go to debug.
      if (typeof extra.error === 'string' && RETRIABLE_PROTOCOL_MESSAGES.has(extra.error)) {
        logger.debug({ ...fields, retriable: true }, message);
        return;
      }
      switch (level) {
        case logLevel.ERROR:
          logger.error(fields, message);
          break;
        case logLevel.WARN:
          logger.warn(fields, message);
          break;
        case logLevel.INFO:
          logger.info(fields, message);
          break;
        default:
          logger.debug(fields, message);
      }
    };
}

// ---------------------------------------------------------------------------------------------------
// Errors

const UNAVAILABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
]);

interface KafkajsLikeError {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly retriable?: unknown;
  readonly type?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/**
 * Maps a kafkajs error (or anything thrown by kafkajs) to a TransportError. Wrapped errors
 * (retries exhausted, aggregate errors) are unwrapped to the innermost one kafkajs reported, so a
 * broker that stayed down stays BROKER_UNAVAILABLE and retriable.
 */
export function toTransportError(err: unknown, context: string): TransportError {
  if (err instanceof TransportError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as KafkajsLikeError;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = `${context}: ${typeof e.message === 'string' ? e.message : String(err)}`;
  // kafkajs wraps a non-retriable protocol error (e.g. TOPIC_AUTHORIZATION_FAILED on produce) in
  // KafkaJSNonRetriableError; the broker's reason is the cause.
  if (
    (name === 'KafkaJSNumberOfRetriesExceeded' || name === 'KafkaJSNonRetriableError') &&
    e.cause !== undefined &&
    e.cause !== err
  ) {
    return toTransportError(e.cause, context);
  }
  if (name === 'KafkaJSAggregateError' && Array.isArray(e.errors) && e.errors.length > 0) {
    return toTransportError(e.errors[0], context);
  }
  if (typeof e.type === 'string') {
    const { code, retriable } = fromKafkaErrorName(e.type, e.retriable === true);
    return new TransportError(code, message, { retriable, cause: err, brokerErrorType: e.type });
  }
  if (UNAVAILABLE_NAMES.has(name)) {
    return new TransportError('BROKER_UNAVAILABLE', message, { retriable: true, cause: err });
  }
  if (name === 'KafkaJSSASLAuthenticationError') {
    return new TransportError('AUTHENTICATION_FAILED', message, { retriable: false, cause: err });
  }
  if (name === 'KafkaJSServerDoesNotSupportApiKey' || name === 'KafkaJSNotImplemented') {
    return new TransportError('UNSUPPORTED_VERSION', message, { retriable: false, cause: err });
  }
  return new TransportError('TRANSPORT_FAILED', message, {
    retriable: e.retriable === true,
    cause: err,
  });
}

async function mapped<T>(context: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toTransportError(err, context);
  }
}

// ---------------------------------------------------------------------------------------------------
// Headers and records

function toKafkajsHeaders(headers: readonly TransportHeader[] | undefined): IHeaders | undefined {
  if (headers === undefined || headers.length === 0) return undefined;
  const out: Record<string, Buffer[]> = {};
  for (const { key, value } of headers) {
    if (value === null) {
      // kafkajs 2.2.4 sizes headers with Buffer.byteLength(value) and throws on null.
      throw new TransportError(
        'INVALID_ARGUMENT',
        'the kafkajs transport cannot write a null header value',
      );
    }
    (out[key] ??= []).push(value);
  }
  return out;
}

function toKafkajsMessage(partition: number, record: ProduceRequest['records'][number]): Message {
  const headers = toKafkajsHeaders(record.headers);
  return {
    partition,
    key: record.key,
    value: record.value,
    ...(headers === undefined ? {} : { headers }),
    ...(record.timestampMs === undefined ? {} : { timestamp: String(record.timestampMs) }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Producer

interface CachedPartitions {
  readonly partitions: readonly PartitionInfo[];
  readonly fetchedAtMs: number;
}

class KafkajsProducer implements TransportProducer {
  readonly #producer: Producer;
  readonly #admin: Admin;
  readonly #nowMs: () => number;
  readonly #compression: KafkajsCompression;
  readonly #ackTimeoutMs: number;
  readonly #metadataMaxAgeMs: number;
  readonly #partitioner: DefaultPartitioner;
  readonly #metadata = new Map<string, CachedPartitions>();
  #adminConnected: Promise<void> | undefined;

  constructor(
    kafka: KafkaClient,
    options: KafkajsTransportOptions,
    producerOptions: TransportProducerOptions,
  ) {
    const idempotent = producerOptions.idempotent ?? true;
    this.#producer = kafka.producer({
      idempotent,
      // kafkajs keeps ordering and sequence numbers right for the idempotent producer only with one
      // request in flight per broker.
      ...(idempotent ? { maxInFlightRequests: 1 } : {}),
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...options.producerConfig,
    });
    // Partition metadata for partitionFor comes from a separate admin connection: kafkajs's producer
    // does not expose its cluster metadata.
    this.#admin = kafka.admin();
    this.#nowMs = options.nowMs;
    this.#compression =
      (producerOptions.compression ?? 'gzip') === 'gzip'
        ? CompressionTypes.GZIP
        : CompressionTypes.None;
    this.#ackTimeoutMs = producerOptions.ackTimeoutMs ?? 30_000;
    this.#metadataMaxAgeMs = producerOptions.metadataMaxAgeMs ?? 300_000;
    this.#partitioner = new DefaultPartitioner(options.partitionerStart);
  }

  async connect(): Promise<void> {
    await mapped('producer connect', () => this.#producer.connect());
  }

  async send(request: ProduceRequest): Promise<ProduceAck> {
    const [ack] = await this.sendBatch([request]);
    if (ack === undefined) {
      throw new TransportError('TRANSPORT_FAILED', 'the broker returned no acknowledgement', {
        retriable: true,
      });
    }
    return ack;
  }

  async sendBatch(requests: readonly ProduceRequest[]): Promise<ProduceAck[]> {
    for (const r of requests) checkPartition(r.partition);
    if (requests.length === 0) return [];
    const metadata = await mapped('produce', () =>
      this.#producer.sendBatch({
        acks: -1,
        timeout: this.#ackTimeoutMs,
        compression: this.#compression,
        topicMessages: requests.map((r) => ({
          topic: r.topic,
          messages: r.records.map((rec) => toKafkajsMessage(r.partition, rec)),
        })),
      }),
    );
    // kafkajs answers one entry per (topic, partition) it wrote to, in no guaranteed order, and
    // writes the messages of one partition in the order given: a later request to the same partition
    // starts where the earlier ones ended.
    const written = new Map<string, bigint>();
    return requests.map((r) => {
      const m = metadata.find((x) => x.topicName === r.topic && x.partition === r.partition);
      if (m === undefined || m.baseOffset === undefined) {
        throw new TransportError(
          'TRANSPORT_FAILED',
          'the broker acknowledgement lacks a partition',
          { retriable: false },
        );
      }
      const key = `${r.topic}\u0000${r.partition}`;
      const before = written.get(key) ?? 0n;
      written.set(key, before + BigInt(r.records.length));
      return {
        topic: r.topic,
        partition: r.partition,
        baseOffset: (BigInt(m.baseOffset) + before).toString(),
      };
    });
  }

  async partitions(
    topic: string,
    options: { readonly refresh?: boolean } = {},
  ): Promise<readonly PartitionInfo[]> {
    const cached = this.#metadata.get(topic);
    const now = this.#nowMs();
    if (
      options.refresh !== true &&
      cached !== undefined &&
      now - cached.fetchedAtMs < this.#metadataMaxAgeMs
    ) {
      return cached.partitions;
    }
    this.#adminConnected ??= this.#admin.connect().catch((err: unknown) => {
      this.#adminConnected = undefined;
      throw err;
    });
    const described = await mapped('partition metadata', async () => {
      await this.#adminConnected;
      return this.#admin.fetchTopicMetadata({ topics: [topic] });
    });
    const meta = described.topics.find((t) => t.name === topic);
    if (meta === undefined || meta.partitions.length === 0) {
      throw new TransportError('TOPIC_NOT_FOUND', 'the topic is not in the cluster metadata', {
        retriable: true,
      });
    }
    const partitions = meta.partitions
      .map((p) => ({
        partition: p.partitionId,
        leader: p.leader,
        replicas: [...p.replicas],
        isr: [...p.isr],
      }))
      .sort((a, b) => a.partition - b.partition);
    this.#metadata.set(topic, { partitions, fetchedAtMs: now });
    return partitions;
  }

  async partitionFor(topic: string, key: Buffer | null): Promise<number> {
    return this.#partitioner.partition(topic, key, await this.partitions(topic));
  }

  async disconnect(): Promise<void> {
    await mapped('producer disconnect', async () => {
      await this.#producer.disconnect();
      if (this.#adminConnected !== undefined) {
        this.#adminConnected = undefined;
        await this.#admin.disconnect();
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Consumer

function tpKey(at: TopicPartition): string {
  return `${at.topic}\u0000${at.partition}`;
}

function groupByTopic(
  partitions: readonly TopicPartition[],
): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    checkPartition(partition);
    const list = byTopic.get(topic) ?? [];
    list.push(partition);
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps }));
}

class KafkajsConsumer implements TransportConsumer {
  readonly #consumer: Consumer;
  readonly #logger: Logger;
  readonly #backoff: PartitionBackoff;
  readonly #resumeTimers = new Map<string, NodeJS.Timeout>();
  /** Partitions sought since their last batch started (a seek may be pending in kafkajs). */
  readonly #sought = new Set<string>();
  readonly #assignmentListeners = new Set<(assignment: readonly TopicPartition[]) => void>();
  readonly #rebalancingListeners = new Set<() => void>();
  readonly #crashListeners = new Set<(crash: ConsumerCrash) => void>();
  /** What this member can prove about its membership (see membership-lease.ts). */
  readonly #lease: MembershipLease;
  /** Whether this member has been told of an assignment it may still hold. */
  #holds = false;
  #running = false;

  constructor(
    kafka: KafkaClient,
    options: KafkajsTransportOptions,
    consumerOptions: TransportConsumerOptions,
  ) {
    this.#consumer = kafka.consumer({
      groupId: consumerOptions.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: consumerOptions.maxWaitTimeMs ?? 1000,
      ...(consumerOptions.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeout: consumerOptions.sessionTimeoutMs }),
      ...(consumerOptions.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatInterval: consumerOptions.heartbeatIntervalMs }),
      ...(consumerOptions.rebalanceTimeoutMs === undefined
        ? {}
        : { rebalanceTimeout: consumerOptions.rebalanceTimeoutMs }),
      ...(consumerOptions.maxBytesPerPartition === undefined
        ? {}
        : { maxBytesPerPartition: consumerOptions.maxBytesPerPartition }),
      ...options.consumerConfig,
    });
    this.#logger = options.logger;
    this.#backoff = new PartitionBackoff({
      ...(consumerOptions.retryInitialDelayMs === undefined
        ? {}
        : { initialDelayMs: consumerOptions.retryInitialDelayMs }),
      ...(consumerOptions.retryMaxDelayMs === undefined
        ? {}
        : { maxDelayMs: consumerOptions.retryMaxDelayMs }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    const raw = options.consumerConfig ?? {};
    this.#lease = new MembershipLease({
      sessionTimeoutMs: raw.sessionTimeout ?? consumerOptions.sessionTimeoutMs ?? 30_000,
      rebalanceTimeoutMs: raw.rebalanceTimeout ?? consumerOptions.rebalanceTimeoutMs ?? 60_000,
      heartbeatIntervalMs: raw.heartbeatInterval ?? consumerOptions.heartbeatIntervalMs ?? 3_000,
      monoMs: () => performance.now(),
    });
    const { GROUP_JOIN, REBALANCING, CRASH, HEARTBEAT, REQUEST, REQUEST_TIMEOUT } =
      this.#consumer.events;
    this.#consumer.on(REQUEST, (event) =>
      this.#lease.answered(event.payload.apiName, event.payload.duration),
    );
    this.#consumer.on(REQUEST_TIMEOUT, (event) => this.#lease.timedOut(event.payload.apiName));
    this.#consumer.on(HEARTBEAT, () => this.#lease.heartbeatSucceeded());
    this.#consumer.on(GROUP_JOIN, (event) => {
      const assignment: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) assignment.push({ topic, partition });
      }
      const discontinuity = this.#lease.joined(event.payload.memberId, event.payload.duration);
      if (discontinuity !== undefined && this.#holds) {
        // This member may have been out of the group meanwhile (fenced, or a generation it never
        // synced): another member may have handled its old partitions. Listeners first see it hold
        // nothing, so they keep nothing they knew about a partition across the gap.
        this.#logger.info(
          { reason: discontinuity },
          'group membership not continuous; previous assignment dropped',
        );
        for (const listener of this.#assignmentListeners) this.#callListener(() => listener([]));
      }
      this.#holds = assignment.length > 0;
      for (const listener of this.#assignmentListeners)
        this.#callListener(() => listener(assignment));
    });
    this.#consumer.on(REBALANCING, () => {
      for (const listener of this.#rebalancingListeners) this.#callListener(listener);
    });
    this.#consumer.on(CRASH, (event) => {
      const crash: ConsumerCrash = {
        error: toTransportError(event.payload.error, 'consumer'),
        willRestart: event.payload.restart,
      };
      if (!crash.willRestart) this.#running = false;
      // kafkajs disconnects a crashed client (leaving the group) before it restarts it.
      this.#lease.left();
      for (const listener of this.#crashListeners) this.#callListener(() => listener(crash));
    });
  }

  #callListener(call: () => void): void {
    try {
      call();
    } catch (err) {
      // A listener bug must not take the consumer down with it; log only the error class and code.
      this.#logger.error({ err: describeError(err) }, 'consumer event listener failed');
    }
  }

  async connect(): Promise<void> {
    await mapped('consumer connect', () => this.#consumer.connect());
  }

  async subscribe(options: {
    readonly topics: readonly string[];
    readonly fromBeginning?: boolean;
  }): Promise<void> {
    await mapped('subscribe', () =>
      this.#consumer.subscribe({
        topics: [...options.topics],
        fromBeginning: options.fromBeginning ?? false,
      }),
    );
  }

  async run(options: ConsumerRunOptions): Promise<void> {
    const eachBatch = options.eachBatch ?? messageLoop(options.eachMessage, this.#backoff);
    // Set before kafkajs starts: the first batch (and the assignment listeners) may run before
    // kafkajs's run() resolves, and they may commit.
    this.#running = true;
    await mapped('consumer run', () =>
      this.#consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const at = { topic: batch.topic, partition: batch.partition };
          const atKey = tpKey(at);
          // kafkajs answers isStale by serialising the partition into a map key (per record here):
          // only a partition we sought can have a seek pending. A batch that starts without one
          // has consumed every earlier seek; a seek during the batch marks it again.
          if (this.#sought.has(atKey) && !payload.isStale()) this.#sought.delete(atKey);
          const control: BatchControl = {
            resolveOffset: (offset) => {
              checkOffset(offset);
              payload.resolveOffset(offset);
            },
            heartbeat: () => mapped('heartbeat', () => payload.heartbeat()),
            pause: (pauseOptions) => this.pause([at], pauseOptions),
            isRunning: () => payload.isRunning(),
            // Past its lease the member may have lost the partition (a stall longer than the
            // session): the rest of the batch waits until a new heartbeat proves the membership.
            isStale: () => (this.#sought.has(atKey) && payload.isStale()) || !this.#lease.held(),
          };
          try {
            // A batch fetched (or resumed) after a stall starts only once the membership is proven
            // again; a fenced member throws kafkajs's rebalance error here and rejoins.
            if (!(await this.#renewLease(payload))) return;
            await eachBatch(toConsumedBatch(batch), control);
            // A batch stopped by its lapsed lease: prove the membership now rather than refetch.
            await this.#renewLease(payload);
          } catch (err) {
            // A rebalance seen by heartbeat or commitOffsets inside the handler: hand kafkajs its own
            // error so the member rejoins now (kafkajs matches on the protocol error type).
            if (
              err instanceof TransportError &&
              err.code === 'REBALANCE_IN_PROGRESS' &&
              err.cause instanceof Error
            ) {
              throw err.cause;
            }
            // Any other handler error must not reach kafkajs (it would restart the whole consumer):
            // pause the partition with backoff; unresolved records come again after it resumes.
            options.onHandlerError?.(err, at);
            this.#logger.warn(
              { err: describeError(err), topic: at.topic, partition: at.partition },
              'batch handler failed; partition paused',
            );
            this.pause([at], { resumeAfterMs: this.#backoff.nextDelayMs(at) });
          }
        },
      }),
    ).catch((err: unknown) => {
      this.#running = false;
      throw err;
    });
  }

  /**
   * Until the lease holds again (see membership-lease.ts): heartbeats — the first call may only join
   * kafkajs's heartbeat in flight, and kafkajs sends no new one within its interval after a success,
   * so it waits that out — and returns whether the lease holds. A heartbeat refused because the
   * member was fenced or the group rebalances throws (REBALANCE_IN_PROGRESS, its kafkajs cause kept)
   * so the member rejoins. Bounded by one session timeout.
   */
  async #renewLease(payload: {
    heartbeat(): Promise<void>;
    isRunning(): boolean;
  }): Promise<boolean> {
    const deadline = performance.now() + this.#lease.leaseMs;
    while (!this.#lease.held()) {
      if (!payload.isRunning() || performance.now() > deadline) return false;
      await mapped('heartbeat', () => payload.heartbeat());
      if (this.#lease.held()) break;
      const waitMs = Math.max(10, this.#lease.nextHeartbeatInMs() + 5);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    return true;
  }

  #requireRunning(operation: string): void {
    if (!this.#running) {
      throw new TransportError(
        'NOT_CONNECTED',
        `${operation} needs a running consumer (call run first)`,
        { retriable: true },
      );
    }
  }

  async commitOffsets(commits: readonly OffsetCommit[]): Promise<void> {
    this.#requireRunning('commitOffsets');
    for (const c of commits) {
      checkPartition(c.partition);
      checkOffset(c.offset);
    }
    await mapped('commit offsets', () =>
      this.#consumer.commitOffsets(
        commits.map((c) => ({
          topic: c.topic,
          partition: c.partition,
          offset: c.offset,
          metadata: c.metadata,
        })),
      ),
    );
  }

  pause(
    partitions: readonly TopicPartition[],
    options: { readonly resumeAfterMs?: number } = {},
  ): void {
    this.#requireRunning('pause');
    const grouped = groupByTopic(partitions);
    try {
      this.#consumer.pause(grouped);
    } catch (err) {
      throw toTransportError(err, 'pause');
    }
    for (const at of partitions) {
      const key = tpKey(at);
      const previous = this.#resumeTimers.get(key);
      if (previous !== undefined) clearTimeout(previous);
      this.#resumeTimers.delete(key);
      if (options.resumeAfterMs !== undefined) {
        const timer = setTimeout(
          () => {
            this.#resumeTimers.delete(key);
            try {
              this.#consumer.resume([{ topic: at.topic, partitions: [at.partition] }]);
            } catch (err) {
              this.#logger.warn(
                { err: describeError(err), topic: at.topic, partition: at.partition },
                'scheduled resume failed',
              );
            }
          },
          Math.max(0, options.resumeAfterMs),
        );
        // A pending resume must not keep a process alive that is otherwise done.
        timer.unref();
        this.#resumeTimers.set(key, timer);
      }
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.#requireRunning('resume');
    for (const at of partitions) {
      const timer = this.#resumeTimers.get(tpKey(at));
      if (timer !== undefined) clearTimeout(timer);
      this.#resumeTimers.delete(tpKey(at));
    }
    try {
      this.#consumer.resume(groupByTopic(partitions));
    } catch (err) {
      throw toTransportError(err, 'resume');
    }
  }

  paused(): TopicPartition[] {
    if (!this.#running) return [];
    return this.#consumer
      .paused()
      .flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
  }

  seek(at: TopicPartition, offset: string): void {
    checkPartition(at.partition);
    checkOffset(offset);
    this.#requireRunning('seek');
    try {
      this.#consumer.seek({ topic: at.topic, partition: at.partition, offset });
      this.#sought.add(tpKey(at));
    } catch (err) {
      throw toTransportError(err, 'seek');
    }
  }

  onAssignment(listener: (assignment: readonly TopicPartition[]) => void): () => void {
    this.#assignmentListeners.add(listener);
    return () => this.#assignmentListeners.delete(listener);
  }

  onRebalancing(listener: () => void): () => void {
    this.#rebalancingListeners.add(listener);
    return () => this.#rebalancingListeners.delete(listener);
  }

  onCrash(listener: (crash: ConsumerCrash) => void): () => void {
    this.#crashListeners.add(listener);
    return () => this.#crashListeners.delete(listener);
  }

  async disconnect(): Promise<void> {
    for (const timer of this.#resumeTimers.values()) clearTimeout(timer);
    this.#resumeTimers.clear();
    this.#running = false;
    this.#lease.left();
    // kafkajs's disconnect stops the run loop, waits for the batch in hand and leaves the group.
    await mapped('consumer disconnect', () => this.#consumer.disconnect());
  }
}

/** The loggable part of an error: class, code and retriable — never its message's payload context. */
function describeError(err: unknown): {
  type: string;
  code?: string;
  retriable?: boolean;
  message?: string;
} {
  if (err instanceof TransportError)
    return { type: err.name, code: err.code, retriable: err.retriable, message: err.message };
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; code?: unknown; retriable?: unknown };
    return {
      type: typeof e.name === 'string' ? e.name : 'Error',
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.retriable === 'boolean' ? { retriable: e.retriable } : {}),
    };
  }
  return { type: typeof err };
}

// ---------------------------------------------------------------------------------------------------
// Admin

class KafkajsAdmin implements TransportAdmin {
  constructor(private readonly admin: Admin) {}

  async connect(): Promise<void> {
    await mapped('admin connect', () => this.admin.connect());
  }

  async createTopics(topics: readonly TopicSpec[]): Promise<boolean> {
    return mapped('create topics', () =>
      this.admin.createTopics({
        waitForLeaders: true,
        topics: topics.map((t) => {
          const configs: Record<string, string> = {
            ...(t.compacted === true ? { 'cleanup.policy': 'compact' } : {}),
            ...t.configs,
          };
          return {
            topic: t.topic,
            numPartitions: t.numPartitions ?? 1,
            replicationFactor: t.replicationFactor ?? -1,
            configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
          };
        }),
      }),
    );
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    await mapped('delete topics', () => this.admin.deleteTopics({ topics: [...topics] }));
  }

  async listTopics(): Promise<string[]> {
    return mapped('list topics', () => this.admin.listTopics());
  }

  async describeTopics(topics: readonly string[]): Promise<TopicDescription[]> {
    const { topics: described } = await mapped('describe topics', () =>
      this.admin.fetchTopicMetadata({ topics: [...topics] }),
    );
    return described.map((t) => ({
      topic: t.name,
      partitions: t.partitions
        .map((p) => ({
          partition: p.partitionId,
          leader: p.leader,
          replicas: [...p.replicas],
          isr: [...p.isr],
        }))
        .sort((a, b) => a.partition - b.partition),
    }));
  }

  async describeTopicConfig(topic: string): Promise<Record<string, string>> {
    const response = await mapped('describe topic config', () =>
      this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      }),
    );
    const out: Record<string, string> = {};
    for (const resource of response.resources) {
      for (const entry of resource.configEntries) out[entry.configName] = entry.configValue;
    }
    return out;
  }

  async fetchCommittedOffsets(
    groupId: string,
    topics: readonly string[],
  ): Promise<CommittedOffset[]> {
    const response = await mapped('fetch committed offsets', () =>
      this.admin.fetchOffsets({ groupId, topics: [...topics] }),
    );
    return response.flatMap(({ topic, partitions }) =>
      partitions
        .map((p) => ({
          topic,
          partition: p.partition,
          offset: p.offset,
          metadata: p.metadata ?? null,
        }))
        .sort((a, b) => a.partition - b.partition),
    );
  }

  async fetchTopicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const response = await mapped('fetch topic offsets', () => this.admin.fetchTopicOffsets(topic));
    return response
      .map((p) => ({ partition: p.partition, low: p.low, high: p.high }))
      .sort((a, b) => a.partition - b.partition);
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    await mapped('delete groups', () => this.admin.deleteGroups([...groupIds]));
  }

  async describeAcls(): Promise<AclBinding[]> {
    const response = await mapped('describe acls', () =>
      this.admin.describeAcls({
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      }),
    );
    // kafkajs 2.2.4 returns only `{ resources }` (a broker error is thrown as a protocol error).
    return aclsFromWire(response.resources);
  }

  async createAcls(bindings: readonly AclBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    await mapped('create acls', () => this.admin.createAcls({ acl: bindings.map(aclToWire) }));
  }

  async deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    const response = await mapped('delete acls', () =>
      this.admin.deleteAcls({ filters: bindings.map(aclToWire) }),
    );
    const failed = response.filterResponses.find(
      (f) => typeof f.errorCode === 'number' && f.errorCode !== 0,
    );
    if (failed !== undefined)
      throw new TransportError('TRANSPORT_FAILED', `delete acls: broker error ${failed.errorCode}`);
  }

  async disconnect(): Promise<void> {
    await mapped('admin disconnect', () => this.admin.disconnect());
  }
}
