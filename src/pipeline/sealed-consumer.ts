/**
 * SealedConsumer: sealed envelopes in, verified application objects out (docs/SPEC.md §5).
 *
 * Per record, in order, failing closed: envelope opener (decode → context → slot → header cache with
 * admission tokens → header → tag → replay pre-check → decrypt) → payload (writer schema by id,
 * schemaFp must match, decode with limits and an optional reader schema) → the application's handler
 * → mark the replay window. At the end of each batch: write the sealed replay state record, then
 * commit the offset with a pointer to it (replay-state-store.ts).
 *
 * Permanent failures go to the dead-letter topic (original record untouched, coarse class in clear,
 * detailed code sealed) and the offset moves only after the dead-letter write is acknowledged.
 * Transient failures (registry, broker, KMS, directory head expired, a handler that throws, an unknown
 * sender within its bounded wait, no admission token, a record addressed to a key of ours that is
 * not loaded) pause the partition and retry with backoff — never a dead letter. Records not addressed
 * to us are skipped and counted; exact duplicates dropped and counted.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { hash256, schemaFingerprint } from '../envelope/derive.js';
import { EnvelopeOpener, type OpenHooks } from '../envelope/envelope-opener.js';
import { EnvelopeError } from '../envelope/errors.js';
import type { OpenPolicy } from '../envelope/opened-session.js';
import { ReplayWindow } from '../envelope/replay-window.js';
import type {
  BatchControl,
  ConsumedBatch,
  ConsumedRecord,
  ConsumerCrash,
  TopicPartition,
  Transport,
  TransportConsumer,
  TransportConsumerOptions,
  TransportHeader,
  TransportProducer,
} from '../kafka/transport.js';
import { DirectorySenderResolver } from '../keys/directory/directory-sender-resolver.js';
import type { KeyDirectory } from '../keys/directory/key-directory.js';
import type { IdentitySource } from '../keys/identity-source.js';
import type { LoadedIdentity } from '../keys/identity.js';
import type { Kms } from '../keys/kms/kms.js';
import { NO_TRACING, type SealpostTracing } from '../observability/tracing.js';
import type { AvroCodec } from '../registry/avro-codec.js';
import { decodeConfluentFrame } from '../registry/confluent-wire-format.js';
import type { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import type { Clock } from '../runtime/clock.js';
import { AdmissionControl, type AdmissionOptions } from './admission-control.js';
import { classifyAddressing } from './consumer/addressing.js';
import { backoffDelayMs } from './consumer/backoff.js';
import { DirectoryFreshness } from './consumer/directory-freshness.js';
import {
  DONE,
  RejectionRoute,
  routePayloadError,
  type RecordOutcome,
} from './consumer/rejection-route.js';
import { OpeningKeys } from './consumer/opening-keys.js';
import { RestartSupervisor, restartPolicy } from './consumer/restart-supervisor.js';
import { DeadLetterBreaker, type DeadLetterBreakerOptions } from './dead-letter-breaker.js';
import { DeadLetterWriter } from './dead-letter-writer.js';
import { DEFAULT_ENVELOPE_SUBJECT, registerEnvelopeSchema } from './envelope-schema.js';
import type { MetadataSink } from './metadata-sink.js';
import { AVRO_CONTENT_TYPE, rawContentFingerprint } from './payload-content.js';
import { PipelineError } from './pipeline-error.js';
import { describeError, silentLogger, type PipelineLogger } from './pipeline-logger.js';
import type { PipelineMetrics } from './pipeline-metrics.js';
import { ReplayStateStore, type PartitionReplayState } from './replay-state-store.js';

/** What the application's handler receives for one verified message. */
export interface SealedDelivery<T = unknown> {
  /** The decoded Avro object, or the raw payload bytes for a raw content type. */
  readonly value: T;
  /** The verified sender identity (from the directory, via the key that signed the session). */
  readonly sender: string;
  /** 32 hex characters. */
  readonly messageId: string;
  /** The sender's creation time (sealed, not the Kafka timestamp). */
  readonly createdAtMs: number;
  /** The writer schema id; undefined for raw payloads. */
  readonly schemaId: number | undefined;
  readonly contentType: string;
  /** `senderKid.streamId.partition.seq` (hex): the same for every redelivery of this message. */
  readonly idempotencyKey: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  /** Clear Kafka headers: unauthenticated, informational only. */
  readonly headers: readonly TransportHeader[];
  readonly entityVersion: number;
  /**
   * A hint: true when this record may have been handed to a handler before — by this process (the
   * handler threw), or by the previous owner of the partition before a crash, restart or rebalance
   * (the record lies below the hand-out mark that owner persisted). Never false for a record handed
   * out before and not committed; may be true for a few never handed out (see `redeliveryMarkAhead`).
   */
  readonly redelivery: boolean;
}

/** Options of {@link SealedConsumer}. */
export interface SealedConsumerOptions {
  readonly transport: Transport;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly registry: SchemaRegistryClient;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly identity: LoadedIdentity;
  /**
   * Where the identity's keys are loaded again after a rotation (e.g. `identityFileSource(path, {
   * crypto, kms })`). A record addressed to a box key the directory lists for this identity but that
   * the running process has not loaded is opened after a reload through this source (one load at a
   * time, at most every 5 s). Without it (or while the source lacks the key or the KMS is down) the
   * partition waits and alerts RECIPIENT_KEY_MISSING: such a record is never skipped.
   */
  readonly identitySource?: IdentitySource;
  readonly directory: KeyDirectory;
  /** Wraps the per-(identity, group) replay state key. */
  readonly kms: Kms;
  /** Compacted topic holding the sealed replay state records. */
  readonly stateTopic: string;
  readonly deadLetterTopic: string;
  /** Identities the detailed rejection code is sealed to in dead letters. Default ['audit', 'dead-letter-worker']. */
  readonly deadLetterDetailRecipients?: readonly string[];
  readonly fromBeginning?: boolean;
  /** Pinned envelope schema id; default: registered from schemas/envelope.avsc at run(). */
  readonly envelopeSchemaId?: number;
  readonly envelopeSubject?: string;
  /** Topic → reader schema for schema evolution (decoded with writer → reader resolution). */
  readonly readerSchemas?: Readonly<Record<string, AvroCodec>>;
  /** Raw (non-Avro) content types to deliver as bytes (e.g. the metadata-event content type). */
  readonly rawContentTypes?: readonly string[];
  /** OpenTelemetry spans, children of the sender's sealed trace context (docs/TRACING.md). */
  readonly tracing?: SealpostTracing;
  /** Time rules. Defaults: skew 60 s, horizon 8 days, session lifetime ≤ 25 h. */
  readonly openPolicy?: Partial<OpenPolicy>;
  readonly maxCiphertextBytes?: number;
  readonly admission?: AdmissionOptions;
  /**
   * Budget of dead-letter writes (e.g. of a junk-header flood): beyond it the partition waits (records
   * stay in Kafka and are dead-lettered later at the allowed rate). Defaults: CHEAP_FLOOD_CLASSES,
   * 10/s burst 100 per partition, 50/s burst 500 global, closes after 10 s without a refusal.
   */
  readonly deadLetterBreaker?: DeadLetterBreakerOptions;
  /**
   * Longest wait of a record whose sender the directory does not know. It is refused (HEADER) as soon
   * as a directory read that started after the record was fetched still lacks the sender (usually
   * one refresh, ~2 s), or after this long if the directory cannot be read. Default 30 s.
   */
  readonly unknownSenderWaitMs?: number;
  /**
   * Compacted topics whose records must carry a growing `entityVersion` per record key (≥ 1): an
   * older or equal version than the last accepted for the key is STALE (ENTITY_VERSION_STALE). The
   * last version per key is kept in the sealed replay state (memory grows with the number of keys).
   */
  readonly entityVersionTopics?: readonly string[];
  /** Missing or mismatched replay state: stay paused and alert (default) or rebuild. */
  readonly replayStatePolicy?: 'pause' | 'rebuild';
  /**
   * Called when a partition is held paused for an operator (replay state refused: REPLAY_STATE_*),
   * when a partition's dead-letter breaker opens (DEAD_LETTER_BREAKER_OPEN), and when a record
   * addressed to a key of this identity cannot be opened because the key is not loaded
   * (RECIPIENT_KEY_MISSING: the partition waits; give the consumer an `identitySource`).
   */
  readonly onAlert?: (alert: {
    readonly topic: string;
    readonly partition: number;
    readonly code: string;
  }) => void;
  /**
   * Passed to the transport consumer. sealpost's defaults differ from kafkajs's: `sessionTimeoutMs`
   * 10,000 (kafkajs 30,000) and `heartbeatIntervalMs` 1,000 (kafkajs 3,000), so that when a member
   * dies without leaving the group (kill -9, a lost host) its partitions move to another member in
   * about 10 s instead of 30 s (docs/OPERATIONS.md "Under faults"). The consumer heartbeats between
   * records at least every `heartbeatIntervalMs`; a single handler call longer than the session
   * timeout still costs the member its partitions (they are handed out again, flagged).
   */
  readonly consumerOptions?: Omit<TransportConsumerOptions, 'groupId'>;
  /**
   * When the transport consumer stops on an error it does not restart from by itself (a crash), the
   * consumer starts a new one after a backoff (`initialDelayMs`, doubled per attempt up to
   * `maxDelayMs`), alerting CONSUMER_RESTARTING each time; after `maxAttempts` restarts without a
   * stable run (`stableAfterMs`) it gives up: CONSUMER_FAILED, `health().ok` false, `onFailed`
   * listeners called. Defaults: 1,000 ms, 30,000 ms, 10 attempts, 60,000 ms.
   */
  readonly restart?: {
    readonly initialDelayMs?: number;
    readonly maxDelayMs?: number;
    readonly maxAttempts?: number;
    readonly stableAfterMs?: number;
  };
  readonly partitionsConsumedConcurrently?: number;
  /** Cap of the backoff between retries of a transient failure. Default 10,000 ms. */
  readonly maxRetryDelayMs?: number;
  /**
   * The longest lead of the hand-out mark over the last record handed out (the lead adapts to the
   * pace of hand-outs between 64 and this, docs/API.md "Redelivery hint"). Every state write carries
   * the mark (state record + commit) and no record at or beyond the persisted mark goes to the
   * handler, so this also bounds the records handed out but not yet committed, i.e. those a crash
   * redelivers (per partition). The next owner flags records below the mark as possible
   * redeliveries. Default 5,000.
   */
  readonly redeliveryMarkAhead?: number;
  /**
   * Write the replay state and commit after this many records, and at the end of every batch; the
   * writes run in the background (one running and one queued per partition at most). Default 500.
   */
  readonly commitEveryRecords?: number;
  /** Replay windows idle this long shrink to their highest seq. Default 1 h. */
  readonly windowIdleShrinkMs?: number;
  readonly metrics?: PipelineMetrics;
  readonly logger?: PipelineLogger;
  readonly events?: MetadataSink;
}

/** The application's handler. Throwing retries the same message later (never a dead letter). */
export type SealedMessageHandler<T = unknown> = (delivery: SealedDelivery<T>) => Promise<void>;

interface PartitionEntry {
  readonly topic: string;
  readonly partition: number;
  status: 'loading' | 'ready' | 'refused';
  /** Held before this assignment: its in-memory state may be kept if the commit is still ours. */
  reusable: boolean;
  /** The commit metadata of our last successful commit. */
  lastMetadata: string | null;
  state: PartitionReplayState;
  /** Offsets processed since the last successful commit. */
  dirty: boolean;
  /** Serialises state writes and commits. */
  persisting: Promise<void>;
  /** A persist queued behind the running one and not started yet (it will capture the newest state). */
  queuedPersist: Promise<void> | undefined;
  /** First time an unknown sender was seen at an offset (bounded wait). */
  unknownSince: Map<string, number>;
  /** Unclassified failures per offset (bounded). */
  unexpected: Map<string, number>;
  /** Offsets handed to the handler before (redelivery hint), bounded. */
  attempted: Map<string, number>;
  /** The hand-out mark of the state we loaded: offsets below it may have been handed out before. */
  redeliverBelow: bigint | null;
  /** The newest hand-out mark known to be in the state topic and committed (the in-memory one may lead it). */
  persistedMark: bigint | null;
  /** The offset of the last record handed to the handler by this member. */
  lastHandedOut: bigint | null;
  /** Records handed to the handler by this member (drives the adaptive mark lead). */
  handedOut: number;
  /**
   * How far the next mark is put past the last record handed out: adapted to what is handed out
   * while one state write is in flight (see #adaptLead), between MIN_MARK_LEAD and
   * `redeliveryMarkAhead`.
   */
  lead: number;
  /** The opener's hooks for this partition (made once, not per record). */
  readonly hooks: OpenHooks;
  /** Offsets below `below` were in the partition at `atMs` (the first fetch that covered them). */
  seenMark: { readonly below: bigint; readonly atMs: number } | undefined;
  /** When the batch in hand was fetched (records in it were written before). */
  batchSeenMs: number;
  /** The offset whose missing recipient key was alerted (one alert per stuck record). */
  keyMissingAlerted: string | null;
}

/**
 * The lowest hand-out mark a clean close may persist: no record handed out and not committed, by
 * this member or (per the mark it loaded) by the previous owner, may fall below it (the redelivery
 * hint is never false for such a record).
 */
function closingMarkFloor(p: PartitionEntry): bigint {
  let floor = p.state.nextOffset ?? 0n;
  if (p.redeliverBelow !== null && p.redeliverBelow > floor) floor = p.redeliverBelow;
  if (p.lastHandedOut !== null && p.lastHandedOut + 1n > floor) floor = p.lastHandedOut + 1n;
  return floor;
}

/** sealpost's session timeout and heartbeat interval (see `consumerOptions`). */
const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;

/** The smallest hand-out mark lead (capped by `redeliveryMarkAhead`). */
const MIN_MARK_LEAD = 64;
/** Longest total token wait served in place within one batch (ms); also the shortest token pause. */
const IN_PLACE_WAIT_MS = 250;
const TOKEN_WAITS: ReadonlySet<string> = new Set(['admission', 'dead-letter-breaker']);
const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** See the module comment. */
export class SealedConsumer {
  readonly #o: SealedConsumerOptions;
  readonly #logger: PipelineLogger;
  #consumer: TransportConsumer;
  /** Listeners on the current transport consumer (removed when it is replaced after a crash). */
  #consumerUnsubscribe: (() => void)[] = [];
  readonly #restarts: RestartSupervisor;
  readonly #producer: TransportProducer;
  readonly #admission: AdmissionControl;
  readonly #breaker: DeadLetterBreaker;
  readonly #policy: OpenPolicy;
  readonly #partitions = new Map<string, PartitionEntry>();
  readonly #schemaFps = new Map<number, Uint8Array>();
  readonly #rawFps = new Map<string, Uint8Array>();
  #store: ReplayStateStore | undefined;
  #opener: EnvelopeOpener | undefined;
  #dlq: DeadLetterWriter | undefined;
  readonly #route: RejectionRoute;
  #handler: SealedMessageHandler | undefined;
  readonly #keys: OpeningKeys;
  readonly #freshness: DirectoryFreshness;
  #flushTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void)[] = [];
  #state: 'new' | 'running' | 'closed' = 'new';
  /** Set by close(): no record is handed out any more. */
  #closing = false;
  readonly #activeBatches = new Set<Promise<void>>();
  readonly #backoff = new Map<string, number>();
  #lastSenderKid: Uint8Array | undefined;
  #lastStreamId: Uint8Array | undefined;
  #lastStreamPrefix = '';
  /** `redeliveryMarkAhead`: the largest lead of the hand-out mark. */
  readonly #maxLead: number;
  /** The transport consumer's options, defaults resolved (every restart uses the same). */
  readonly #consumerOptions: TransportConsumerOptions;
  /** How often the batch loop heartbeats between records (ms). */
  readonly #heartbeatMs: number;

  constructor(options: SealedConsumerOptions) {
    for (const [name, value] of [
      ['redeliveryMarkAhead', options.redeliveryMarkAhead],
      ['commitEveryRecords', options.commitEveryRecords],
    ] as const)
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1))
        throw new PipelineError('MESSAGE_INVALID', `${name} must be an integer ≥ 1`);
    this.#o = options;
    this.#maxLead = options.redeliveryMarkAhead ?? 5000;
    this.#logger = options.logger ?? silentLogger;
    this.#consumerOptions = {
      sessionTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
      ...options.consumerOptions,
      groupId: options.groupId,
    };
    this.#heartbeatMs = this.#consumerOptions.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#consumer = options.transport.consumer(this.#consumerOptions);
    this.#producer = options.transport.producer();
    this.#freshness = new DirectoryFreshness(options.directory, options.clock, this.#logger);
    this.#keys = new OpeningKeys({
      identity: options.identity,
      directory: options.directory,
      ...(options.identitySource === undefined ? {} : { source: options.identitySource }),
      clock: options.clock,
      logger: this.#logger,
      apply: (keys) => this.#opener?.setRecipientKeys(keys),
    });
    this.#restarts = new RestartSupervisor({
      policy: restartPolicy(options.restart),
      clock: options.clock,
      logger: this.#logger,
      active: () => this.#state === 'running' && !this.#closing,
      replace: () => this.#replaceConsumer(),
      alert: (code) => this.#alertTopics(code),
    });
    this.#admission = new AdmissionControl(options.clock, options.admission);
    this.#breaker = new DeadLetterBreaker(options.clock, options.deadLetterBreaker, {
      opened: (topic, partition) => {
        options.metrics?.deadLetterBreakerOpen.set({ topic, partition: String(partition) }, 1);
        this.#logger.warn(
          { topic, partition },
          'dead-letter breaker open; partition waits for budget',
        );
        options.onAlert?.({ topic, partition, code: 'DEAD_LETTER_BREAKER_OPEN' });
      },
      closed: (topic, partition) => {
        options.metrics?.deadLetterBreakerOpen.set({ topic, partition: String(partition) }, 0);
        this.#logger.info({ topic, partition }, 'dead-letter breaker closed');
      },
    });
    this.#route = new RejectionRoute({
      breaker: this.#breaker,
      writer: () => this.#dlq!,
      groupId: options.groupId,
      logger: this.#logger,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.events === undefined ? {} : { events: options.events }),
    });
    this.#policy = {
      skewMs: 60_000,
      horizonMs: 8 * 86_400_000,
      maxSessionLifetimeMs: 25 * 3_600_000,
      ...options.openPolicy,
    };
  }

  /** Partitions held paused because their replay state was refused (operator attention needed). */
  refusedPartitions(): TopicPartition[] {
    return [...this.#partitions.values()]
      .filter((p) => p.status === 'refused')
      .map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /**
   * Connects, loads the replay state key, subscribes and starts delivering to `eachMessage`. Resolves
   * once the run loop has started.
   */
  async run<T = unknown>(options: {
    readonly eachMessage: SealedMessageHandler<T>;
  }): Promise<void> {
    if (this.#state !== 'new')
      throw new PipelineError(
        this.#state === 'closed' ? 'PIPELINE_CLOSED' : 'PIPELINE_NOT_READY',
        'run() may be called once',
      );
    const o = this.#o;
    // Before anything is connected: a registry that is down at start leaves the consumer re-runnable.
    const envelopeSchemaId =
      o.envelopeSchemaId ??
      (await registerEnvelopeSchema(o.registry, o.envelopeSubject ?? DEFAULT_ENVELOPE_SUBJECT));
    if (this.#state !== 'new')
      throw new PipelineError('PIPELINE_NOT_READY', 'run() may be called once');
    this.#state = 'running';
    this.#handler = options.eachMessage as SealedMessageHandler;
    await this.#producer.connect();
    this.#store = new ReplayStateStore({
      transport: o.transport,
      producer: this.#producer,
      stateTopic: o.stateTopic,
      group: o.groupId,
      identity: o.identity.name,
      kms: o.kms,
      crypto: o.crypto,
      clock: o.clock,
      logger: this.#logger,
    });
    this.#dlq = new DeadLetterWriter({
      producer: this.#producer,
      topic: o.deadLetterTopic,
      crypto: o.crypto,
      clock: o.clock,
      identity: o.identity,
      directory: o.directory,
      group: o.groupId,
      detailRecipients: o.deadLetterDetailRecipients ?? ['audit', 'dead-letter-worker'],
    });
    const keys = this.#keys.current();
    this.#opener = new EnvelopeOpener({
      provider: o.crypto,
      clock: o.clock,
      resolver: new DirectorySenderResolver(o.directory),
      policy: this.#policy,
      limits: {
        envelopeSchemaId,
        namespace: o.directory.namespace,
        maxCiphertextBytes: o.maxCiphertextBytes ?? 1_048_576 + 65_536,
      },
      recipientKeys: keys,
    });
    this.#unsubscribe.push(o.directory.onEpochChange(() => this.#keys.refresh()));
    await this.#startConsumer();
    // Offsets processed but not yet committed (a failed commit) are retried in the background.
    this.#flushTimer = setInterval(() => {
      for (const p of this.#partitions.values())
        if (p.dirty && p.status === 'ready') void this.#persist(p).catch(() => undefined);
      this.#breaker.tick();
    }, 1000);
    this.#flushTimer.unref();
  }

  /** Wires, connects, subscribes and runs the current transport consumer. */
  async #startConsumer(): Promise<void> {
    const o = this.#o;
    const consumer = this.#consumer;
    this.#consumerUnsubscribe.push(
      consumer.onAssignment((assignment) => this.#onAssignment(assignment)),
      consumer.onCrash((crash) => this.#onCrash(consumer, crash)),
    );
    await consumer.connect();
    await consumer.subscribe({
      topics: o.topics,
      ...(o.fromBeginning === undefined ? {} : { fromBeginning: o.fromBeginning }),
    });
    await consumer.run({
      eachBatch: (batch, control) => this.#eachBatch(batch, control),
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 1,
      onHandlerError: (err, at) =>
        this.#logger.warn(
          { err: describeError(err), topic: at.topic, partition: at.partition },
          'batch failed; partition paused',
        ),
    });
  }

  #onCrash(consumer: TransportConsumer, crash: ConsumerCrash): void {
    this.#logger.error(
      { err: describeError(crash.error), willRestart: crash.willRestart },
      'transport consumer crashed',
    );
    this.#o.metrics?.transientRetries.inc({ reason: 'consumer-crash' });
    // Only the current transport consumer's crash counts (an old one's is over).
    if (consumer === this.#consumer) this.#restarts.crashed(crash);
  }

  /**
   * Replaces the crashed transport consumer (the client left the group on its crash, so the next
   * member takes over without waiting out a session timeout); our partitions are reassigned to the
   * new member (or another one) and reloaded then.
   */
  async #replaceConsumer(): Promise<void> {
    for (const u of this.#consumerUnsubscribe) u();
    this.#consumerUnsubscribe = [];
    await this.#consumer.disconnect().catch(() => undefined);
    this.#consumer = this.#o.transport.consumer(this.#consumerOptions);
    await this.#startConsumer();
  }

  /** A consumer-wide alert: one per subscribed topic, partition -1. */
  #alertTopics(code: string): void {
    for (const topic of this.#o.topics) this.#o.onAlert?.({ topic, partition: -1, code });
  }

  /**
   * Whether the consumer is consuming: false before run(), after close(), and once it gave up
   * restarting a crashed transport consumer (`state: 'failed'`). While it restarts, `ok` stays true
   * and `state` is 'restarting'.
   */
  health(): {
    readonly ok: boolean;
    readonly state: 'new' | 'running' | 'restarting' | 'failed' | 'closed';
    readonly restarts: number;
    readonly refusedPartitions: number;
  } {
    const state = this.#restarts.failed
      ? 'failed'
      : this.#state === 'running' && this.#restarts.restarting
        ? 'restarting'
        : this.#state;
    return {
      ok: state === 'running' || state === 'restarting',
      state,
      restarts: this.#restarts.attempts,
      refusedPartitions: this.refusedPartitions().length,
    };
  }

  /** Calls `listener` once the consumer gave up restarting (CONSUMER_FAILED). Returns an unsubscribe. */
  onFailed(listener: (error: PipelineError) => void): () => void {
    return this.#restarts.onFailed(listener);
  }

  /**
   * Every assignment (re)loads its partitions' replay state before they are fetched. A partition we
   * held before keeps its in-memory state only if the group's commit is still the one we made (no
   * other member processed it meanwhile); otherwise it is loaded from the state topic.
   */
  #onAssignment(assignment: readonly TopicPartition[]): void {
    const assigned = new Set(assignment.map((a) => tpKey(a.topic, a.partition)));
    for (const [k, p] of [...this.#partitions]) {
      if (assigned.has(k)) continue;
      this.#partitions.delete(k);
      this.#breaker.release(p.topic, p.partition);
    }
    if (assignment.length === 0) return;
    for (const at of assignment) {
      const existing = this.#partitions.get(tpKey(at.topic, at.partition));
      if (existing !== undefined && existing.status === 'ready') {
        existing.status = 'loading';
        existing.reusable = true;
        continue;
      }
      const key = tpKey(at.topic, at.partition);
      const entry: PartitionEntry = {
        topic: at.topic,
        partition: at.partition,
        status: 'loading',
        reusable: false,
        lastMetadata: null,
        state: {
          generation: 0,
          nextOffset: null,
          windows: new Map(),
          entityVersions: new Map(),
          handOutMark: null,
        },
        dirty: false,
        persisting: Promise.resolve(),
        queuedPersist: undefined,
        unknownSince: new Map(),
        unexpected: new Map(),
        attempted: new Map(),
        redeliverBelow: null,
        persistedMark: null,
        lastHandedOut: null,
        handedOut: 0,
        lead: Math.min(this.#maxLead, 2 * MIN_MARK_LEAD),
        seenMark: undefined,
        batchSeenMs: 0,
        keyMissingAlerted: null,
        hooks: {
          window: (k) => entry.state.windows.get(k),
          admit: () => {
            const verdict = this.#admission.take(key);
            const m = this.#o.metrics;
            if (verdict !== 'admitted') m?.throttled.inc({ scope: verdict });
            else m?.sessionsOpened.inc({ side: 'consumer' });
            return verdict === 'admitted';
          },
        },
      };
      this.#partitions.set(key, entry);
    }
    this.#consumer.pause(assignment);
    void this.#load(assignment, 0);
  }

  async #load(parts: readonly TopicPartition[], attempt: number): Promise<void> {
    const o = this.#o;
    const store = this.#store!;
    try {
      for (const at of parts) await this.#partitions.get(tpKey(at.topic, at.partition))?.persisting;
      const admin = o.transport.admin();
      await admin.connect();
      let committed;
      // The high watermarks now: the previous owner of a partition lost it before this load, so it
      // can only have handed out records below them (caps the redelivery hint of the loaded mark).
      const written = new Map<string, bigint>();
      try {
        const topics = [...new Set(parts.map((p) => p.topic))];
        committed = await admin.fetchCommittedOffsets(o.groupId, topics);
        for (const topic of topics)
          for (const p of await admin.fetchTopicOffsets(topic))
            written.set(tpKey(topic, p.partition), BigInt(p.high));
      } finally {
        await admin.disconnect();
      }
      const commitOf = (at: TopicPartition) =>
        committed.find((x) => x.topic === at.topic && x.partition === at.partition) ?? {
          offset: '-1',
          metadata: null,
        };
      const reuse = (at: TopicPartition): boolean => {
        const e = this.#partitions.get(tpKey(at.topic, at.partition));
        const c = commitOf(at);
        return (
          e !== undefined &&
          e.reusable &&
          !e.dirty &&
          e.lastMetadata !== null &&
          e.lastMetadata === c.metadata &&
          e.state.nextOffset?.toString() === c.offset
        );
      };
      if (parts.some((at) => !reuse(at))) await store.scan();
      const ready: TopicPartition[] = [];
      for (const at of parts) {
        const entry = this.#partitions.get(tpKey(at.topic, at.partition));
        if (entry === undefined || this.#state !== 'running') continue;
        if (reuse(at)) {
          entry.status = 'ready';
          entry.reusable = false;
          ready.push(at);
          continue;
        }
        entry.reusable = false;
        const c = commitOf(at);
        const outcome = store.load(at.topic, at.partition, c, o.replayStatePolicy ?? 'pause');
        if (outcome.kind === 'refused') {
          entry.status = 'refused';
          this.#logger.error(
            { topic: at.topic, partition: at.partition, code: outcome.error.code },
            'replay state refused; partition held paused',
          );
          o.onAlert?.({ topic: at.topic, partition: at.partition, code: outcome.error.code });
          continue;
        }
        if (outcome.kind === 'rebuilt') {
          this.#logger.warn(
            { topic: at.topic, partition: at.partition },
            'replay state rebuilt by policy',
          );
          o.onAlert?.({ topic: at.topic, partition: at.partition, code: 'REPLAY_STATE_REBUILT' });
        }
        if (outcome.kind === 'loaded' && outcome.state.nextOffset !== null) {
          // Fetch exactly from the offset the loaded state belongs to.
          try {
            this.#consumer.seek(at, outcome.state.nextOffset.toString());
          } catch (err) {
            this.#logger.warn(
              { err: describeError(err), topic: at.topic, partition: at.partition },
              'seek after loading replay state failed',
            );
          }
        }
        entry.state = outcome.state;
        const loadedMark = outcome.kind === 'loaded' ? outcome.state.handOutMark : null;
        const high = written.get(tpKey(at.topic, at.partition));
        entry.redeliverBelow =
          loadedMark !== null && high !== undefined && high < loadedMark ? high : loadedMark;
        entry.persistedMark = outcome.state.handOutMark;
        entry.lastHandedOut = null;
        entry.lastMetadata = c.metadata;
        entry.dirty = false;
        entry.status = 'ready';
        ready.push(at);
      }
      if (ready.length > 0 && this.#state === 'running') this.#consumer.resume(ready);
    } catch (err) {
      // KMS, broker or state topic unavailable: keep the partitions paused and try again.
      const delay = backoffDelayMs(attempt + 1, 500, this.#o.maxRetryDelayMs ?? 10_000);
      this.#logger.warn(
        { err: describeError(err), delayMs: delay },
        'loading replay state failed; retrying',
      );
      o.metrics?.transientRetries.inc({ reason: 'replay-state-load' });
      if (this.#state !== 'running') return;
      setTimeout(() => void this.#load(parts, attempt + 1), delay).unref();
    }
  }

  /** Runs a batch, tracked so close() can wait for the one in hand before its last commit. */
  async #eachBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (this.#closing) return;
    const run = this.#runBatch(batch, control);
    const tracked = run.catch(() => undefined);
    this.#activeBatches.add(tracked);
    try {
      await run;
    } finally {
      this.#activeBatches.delete(tracked);
    }
  }

  async #runBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    const key = tpKey(batch.topic, batch.partition);
    const entry = this.#partitions.get(key);
    if (entry === undefined || entry.status !== 'ready') {
      // Not loaded yet (or refused): hold the partition; the loader resumes it.
      control.pause(entry?.status === 'refused' ? {} : { resumeAfterMs: 1000 });
      return;
    }
    // What the fetch proves about when its records were written (see #writtenBeforeMs).
    entry.batchSeenMs = this.#o.clock.nowMs();
    if (
      entry.seenMark === undefined ||
      (entry.state.nextOffset !== null && entry.state.nextOffset >= entry.seenMark.below)
    )
      entry.seenMark = { below: BigInt(batch.highWatermark), atMs: entry.batchSeenMs };
    let processed = false;
    let count = 0;
    let beatAtMs = this.#o.clock.nowMs();
    // Token waits served in place, bounded per batch: with partitionsConsumedConcurrently = 1 a wait
    // here holds every other partition too, so a longer wait pauses this partition instead.
    let waitedInPlaceMs = 0;
    try {
      for (const record of batch.records) {
        // A new assignment is reloading this partition: stop; unresolved records are fetched again.
        if (!control.isRunning() || control.isStale() || entry.status !== 'ready' || this.#closing)
          break;
        const offset = BigInt(record.offset);
        if (entry.state.nextOffset !== null && offset < entry.state.nextOffset) {
          // Already processed (a refetch after a pause): the window would call it a duplicate anyway.
          control.resolveOffset(record.offset);
          continue;
        }
        let outcome = await this.#process(record, entry);
        // A short admission wait is served in place: pausing and re-fetching costs far more than the
        // few milliseconds until the next token (the partition makes no progress either way).
        while (
          outcome.kind === 'retry' &&
          (outcome.reason === 'admission' || outcome.reason === 'dead-letter-breaker') &&
          waitedInPlaceMs + outcome.afterMs <= IN_PLACE_WAIT_MS &&
          control.isRunning() &&
          !control.isStale()
        ) {
          const waitMs = outcome.afterMs;
          waitedInPlaceMs += waitMs;
          await new Promise((resolve) => setTimeout(resolve, waitMs));
          await control.heartbeat();
          outcome = await this.#process(record, entry);
        }
        if (outcome.kind === 'retry') {
          const n = (this.#backoff.get(key) ?? 0) + 1;
          this.#backoff.set(key, n);
          // A token wait is known exactly (no exponential backoff); other failures back off.
          const delay = TOKEN_WAITS.has(outcome.reason)
            ? Math.max(outcome.afterMs, IN_PLACE_WAIT_MS)
            : Math.max(
                outcome.afterMs,
                backoffDelayMs(Math.min(n, 9) + 1, 100, this.#o.maxRetryDelayMs ?? 10_000),
              );
          this.#o.metrics?.transientRetries.inc({ reason: outcome.reason });
          this.#logger.info(
            {
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              reason: outcome.reason,
              delayMs: delay,
            },
            'partition paused',
          );
          control.pause({ resumeAfterMs: delay });
          break;
        }
        this.#backoff.delete(key);
        entry.state.nextOffset = offset + 1n;
        entry.dirty = true;
        processed = true;
        control.resolveOffset(record.offset);
        ++count;
        // Between records, at the heartbeat interval (the transport sends at most one per interval):
        // a long batch of slow handlers must not outlive the session timeout.
        const now = this.#o.clock.nowMs();
        if (now - beatAtMs >= this.#heartbeatMs) {
          beatAtMs = now;
          await control.heartbeat();
        }
        // Large batches commit as they go (in the background; what runs ahead of the last commit is
        // bounded by the hand-out mark, see #persistBehind).
        if (count % (this.#o.commitEveryRecords ?? 500) === 0) this.#persistBehind(entry);
      }
    } finally {
      if (processed) this.#persistBehind(entry);
    }
  }

  /**
   * Starts a state write + commit without waiting for it: the broker round trips (state record
   * acks=all, then the offset commit) overlap the next records, fetches and batches instead of
   * stalling them; `#persist` keeps at most one running and one queued per partition. Safety is
   * unchanged: a persist captures the state and the next offset at one instant, and a record's seq is
   * marked only after its handler succeeded, so a crash redelivers only records whose offsets were not
   * yet committed, and the replay windows never claim an unhandled record. What may run ahead of the
   * written state is bounded by the hand-out mark (see `redeliveryMarkAhead`): a record at or beyond
   * the persisted mark waits for the write in flight.
   */
  #persistBehind(entry: PartitionEntry): void {
    this.#persist(entry).catch(() => undefined);
  }

  /** Writes the replay state record, then commits the offset pointing to it (serialised per partition). */
  #persist(entry: PartitionEntry): Promise<void> {
    // Coalesce: one not-yet-started persist covers every caller (it captures the newest state).
    if (entry.queuedPersist !== undefined) return entry.queuedPersist;
    const run = entry.persisting.then(async () => {
      entry.queuedPersist = undefined;
      if (!entry.dirty || entry.state.nextOffset === null) return;
      const next = entry.state.nextOffset;
      this.#gcWindows(entry);
      // Every write carries the hand-out mark forward too (to `redeliveryMarkAhead` past the last
      // record handed out), so a consumer whose writes keep up never stops to write the mark alone.
      if (!this.#closing && entry.lastHandedOut !== null && entry.state.handOutMark !== null) {
        const ahead = entry.lastHandedOut + BigInt(entry.lead);
        if (ahead > entry.state.handOutMark) entry.state.handOutMark = ahead;
      }
      const handedBefore = entry.handedOut;
      // write() encodes synchronously: the mark captured here is the one persisted.
      const state = entry.state;
      const mark = state.handOutMark;
      const { generation, metadata } = await this.#store!.write(
        entry.topic,
        entry.partition,
        state,
        next,
      );
      await this.#consumer.commitOffsets([
        { topic: entry.topic, partition: entry.partition, offset: next.toString(), metadata },
      ]);
      // A reload (new assignment) replaced the state meanwhile: it decides from the commit it read.
      if (entry.state !== state) return;
      state.generation = generation;
      entry.lastMetadata = metadata;
      entry.persistedMark = mark;
      this.#adaptLead(entry, entry.handedOut - handedBefore);
      // Still dirty if the offset or the hand-out mark moved while this write was in flight.
      if (state.nextOffset === next && state.handOutMark === mark) entry.dirty = false;
    });
    entry.queuedPersist = run;
    entry.persisting = run.catch((err: unknown) => {
      this.#logger.warn(
        { err: describeError(err), topic: entry.topic, partition: entry.partition },
        'replay state or commit failed; will retry',
      );
    });
    return run;
  }

  /**
   * The mark's lead follows the pace of hand-outs: a write starts when half the lead is left, and
   * the one queued behind it may have to wait for it, so 4× the records handed out during one write
   * keeps the hand-outs from reaching the mark (reaching it doubles the lead). It shrinks by at most
   * half per write. A small lead is what keeps the redelivery hint precise after a crash: only records
   * below the persisted mark are flagged, and at most the lead of them were never handed out.
   */
  #adaptLead(entry: PartitionEntry, handedDuringWrite: number): void {
    const target = Math.max(MIN_MARK_LEAD, 4 * handedDuringWrite);
    entry.lead = Math.min(this.#maxLead, Math.max(target, entry.lead >> 1));
  }

  /** `<senderKid hex>.<streamId hex>.` of the idempotency key, remembered for the last stream seen. */
  #streamPrefix(senderKid: Uint8Array, streamId: Uint8Array): string {
    // An opened session hands out the same two arrays for every message: compare by identity.
    if (senderKid !== this.#lastSenderKid || streamId !== this.#lastStreamId) {
      this.#lastSenderKid = senderKid;
      this.#lastStreamId = streamId;
      this.#lastStreamPrefix = `${hex(senderKid)}.${hex(streamId)}.`;
    }
    return this.#lastStreamPrefix;
  }

  #gcWindows(entry: PartitionEntry): void {
    const now = this.#o.clock.nowMs();
    const shrinkMs = this.#o.windowIdleShrinkMs ?? 3_600_000;
    for (const [k, w] of entry.state.windows) {
      if (w.isIdle(now, this.#policy.horizonMs)) entry.state.windows.delete(k);
      else if (!w.shrunk && w.isIdle(now, shrinkMs)) w.shrink();
    }
  }

  /** A time the record was certainly written before: when the first fetch that held it was handled. */
  #writtenBeforeMs(record: ConsumedRecord, entry: PartitionEntry): number {
    const mark = entry.seenMark;
    return mark !== undefined && BigInt(record.offset) < mark.below ? mark.atMs : entry.batchSeenMs;
  }

  /**
   * A record addressed to a box key the directory lists for our identity, which the opener lacks (a
   * rotation): reload the identity through its source and open the record; if that is not possible,
   * the partition waits and alerts. Never skipped, never dead-lettered.
   */
  async #recipientKeyMissing(
    record: ConsumedRecord,
    entry: PartitionEntry,
    kid: string,
    reopened: boolean,
  ): Promise<RecordOutcome> {
    const o = this.#o;
    if (!reopened && (await this.#keys.recover())) return this.#process(record, entry, true);
    if (entry.keyMissingAlerted !== record.offset) {
      entry.keyMissingAlerted = record.offset;
      this.#logger.warn(
        {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          kid,
          identitySource: this.#keys.hasSource,
        },
        'record addressed to a key of ours that is not loaded; partition waits',
      );
      o.onAlert?.({
        topic: record.topic,
        partition: record.partition,
        code: 'RECIPIENT_KEY_MISSING',
      });
    }
    return {
      kind: 'retry',
      afterMs: this.#keys.retryAfterMs(),
      reason: 'recipient-key-missing',
    };
  }

  async #process(
    record: ConsumedRecord,
    entry: PartitionEntry,
    reopened = false,
  ): Promise<RecordOutcome> {
    const o = this.#o;
    const m = o.metrics;
    if (record.value === null) {
      // An unauthenticated tombstone: reported, never acted on.
      m?.rejected.inc({ class: 'MALFORMED', code: 'TOMBSTONE' });
      o.events?.emit({
        type: 'skipped',
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        reason: 'TOMBSTONE',
        group: o.groupId,
      });
      return DONE;
    }
    this.#keys.refreshIfIdentityChanged();
    if (!o.directory.isFresh()) {
      this.#freshness.kick();
      return { kind: 'retry', afterMs: 1000, reason: 'directory-head-expired' };
    }
    const started = process.hrtime.bigint();
    const trace = (o.tracing ?? NO_TRACING).consume(record.topic, record.partition);
    let result;
    try {
      result = this.#opener!.open(record.value, record, entry.hooks);
    } catch (err) {
      if (err instanceof EnvelopeError) {
        if (err.code === 'UNKNOWN_SENDER') {
          // Wait only until a directory read that started after the record was written still lacks
          // the sender (then it is refused like any bad header), or the bounded wait is over.
          const since = entry.unknownSince.get(record.offset) ?? o.clock.nowMs();
          entry.unknownSince.set(record.offset, since);
          if (
            !this.#freshness.covers(this.#writtenBeforeMs(record, entry)) &&
            o.clock.nowMs() - since < (o.unknownSenderWaitMs ?? 30_000)
          ) {
            this.#freshness.kick();
            return { kind: 'retry', afterMs: 200, reason: 'unknown-sender' };
          }
        }
        trace.rejected(err.coarse);
        const outcome = await this.#route.deadLetter(record, err.coarse, err.code);
        if (outcome.kind === 'done') entry.unknownSince.delete(record.offset);
        return outcome;
      }
      return this.#route.unexpected(record, entry.unexpected, err, 'open');
    } finally {
      m?.openSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
    entry.unknownSince.delete(record.offset);
    switch (result.kind) {
      case 'not-addressed': {
        const addressing = classifyAddressing(result.slotKids, o.identity.name, o.directory);
        if (addressing.kind === 'ours-missing')
          return this.#recipientKeyMissing(record, entry, addressing.kid, reopened);
        if (
          addressing.kind === 'unknown-kid' &&
          !this.#freshness.covers(this.#writtenBeforeMs(record, entry))
        ) {
          // Maybe a key of ours published after our last directory read: read it again first.
          this.#freshness.kick();
          return { kind: 'retry', afterMs: 200, reason: 'recipient-unknown' };
        }
        entry.keyMissingAlerted = null;
        m?.skippedNotAddressed.inc({ topic: record.topic });
        return DONE;
      }
      case 'throttled':
        return {
          kind: 'retry',
          afterMs: this.#admission.waitMs(tpKey(record.topic, record.partition)),
          reason: 'admission',
        };
      case 'duplicate':
        m?.duplicates.inc({ topic: record.topic });
        o.events?.emit({
          type: 'duplicate',
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          group: o.groupId,
        });
        return DONE;
      case 'delivered':
        break;
    }
    const msg = result.message;
    // 9. Payload.
    let value: unknown;
    let schemaId: number | undefined;
    try {
      if (msg.contentType === AVRO_CONTENT_TYPE) {
        // SPEC §5 step 9: the writer schema by id, its fingerprint compared, and only then decoded
        // (a payload under a schema the sender did not seal is never handed to the decoder).
        schemaId = decodeConfluentFrame(msg.payload).schemaId;
        let fp = this.#schemaFps.get(schemaId);
        if (fp === undefined) {
          fp = schemaFingerprint(o.crypto, (await o.registry.getSchema(schemaId)).text);
          this.#schemaFps.set(schemaId, fp);
        }
        if (!o.crypto.equalConstantTime(fp, msg.schemaFp))
          return this.#route.deadLetter(record, 'SCHEMA', 'SCHEMA_MISMATCH');
        const reader = o.readerSchemas?.[record.topic];
        value = (await o.registry.decode(msg.payload, reader === undefined ? {} : { reader }))
          .value;
      } else if (o.rawContentTypes?.includes(msg.contentType) === true) {
        let fp = this.#rawFps.get(msg.contentType);
        if (fp === undefined) {
          fp = rawContentFingerprint(o.crypto, msg.contentType);
          this.#rawFps.set(msg.contentType, fp);
        }
        if (!o.crypto.equalConstantTime(fp, msg.schemaFp))
          return this.#route.deadLetter(record, 'SCHEMA', 'SCHEMA_MISMATCH');
        value = Buffer.from(msg.payload);
      } else {
        return this.#route.deadLetter(record, 'PAYLOAD', 'PAYLOAD_INVALID');
      }
    } catch (err) {
      const verdict = routePayloadError(err);
      if (verdict.action === 'dead-letter')
        return this.#route.deadLetter(record, verdict.coarse, verdict.detail);
      if (verdict.action === 'unexpected')
        return this.#route.unexpected(record, entry.unexpected, err, 'payload');
      if (verdict.refusing)
        this.#logger.error(
          { err: describeError(err) },
          'schema registry refuses; partition paused until fixed',
        );
      return { kind: 'retry', afterMs: 1000, reason: verdict.reason };
    } finally {
      // The opened plaintext is no longer needed: decoded (Avro) or copied out (raw types).
      o.crypto.memzero(msg.payload);
    }
    // 10. Compacted topics under the policy: the entity version must grow per record key.
    let entityKey: string | undefined;
    if (record.key !== null && o.entityVersionTopics?.includes(record.topic) === true) {
      entityKey = hex(hash256(o.crypto, record.key));
      const last = entry.state.entityVersions.get(entityKey);
      if (msg.entityVersion < 1 || (last !== undefined && msg.entityVersion <= last))
        return this.#route.deadLetter(record, 'STALE', 'ENTITY_VERSION_STALE');
    }
    // 11. Deliver; mark only after the handler succeeded.
    const offset = BigInt(record.offset);
    // A persist in flight may already carry the mark past this offset: wait for it, not write again.
    // Reaching the persisted mark means the lead was too short for the pace of hand-outs: double it.
    if (entry.persistedMark !== null && offset >= entry.persistedMark)
      entry.lead = Math.min(this.#maxLead, entry.lead * 2);
    if (
      (entry.persistedMark === null || offset >= entry.persistedMark) &&
      entry.state.handOutMark !== null &&
      offset < entry.state.handOutMark
    )
      await entry.persisting;
    if (entry.persistedMark === null || offset >= entry.persistedMark) {
      // Persist the hand-out mark before handing the record out, so that whoever loads this state
      // after a crash can tell which records may have been handed out already (redelivery hint).
      const before = entry.state.handOutMark;
      const mark = offset + BigInt(entry.lead);
      entry.state.handOutMark = mark;
      if (entry.state.nextOffset === null) entry.state.nextOffset = offset;
      entry.dirty = true;
      try {
        await this.#persist(entry);
      } catch (err) {
        // Not persisted: the record must not go out under a mark nobody can read back.
        if (entry.state.handOutMark === mark) entry.state.handOutMark = before;
        return this.#route.transient(err, 'replay-state-write');
      }
    } else if (
      entry.queuedPersist === undefined &&
      entry.persistedMark - offset <= BigInt(entry.lead >> 1)
    ) {
      // Half the lead left: move the mark on in the background before the hand-outs reach it.
      entry.dirty = true;
      this.#persistBehind(entry);
    }
    entry.lastHandedOut = offset;
    entry.handedOut++;
    const attempts = entry.attempted.get(record.offset) ?? 0;
    const delivery: SealedDelivery = {
      value,
      sender: msg.senderIdentity,
      messageId: hex(msg.messageId),
      createdAtMs: msg.createdAtMs,
      schemaId,
      contentType: msg.contentType,
      idempotencyKey: `${this.#streamPrefix(msg.senderKid, msg.streamId)}${msg.partition}.${msg.seq}`,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      headers: record.headers,
      entityVersion: msg.entityVersion,
      redelivery: attempts > 0 || (entry.redeliverBelow !== null && offset < entry.redeliverBelow),
    };
    try {
      await trace.handOut(msg, () => this.#handler!(delivery));
    } catch (err) {
      entry.attempted.set(record.offset, attempts + 1);
      if (entry.attempted.size > 1000)
        entry.attempted.delete(entry.attempted.keys().next().value as string);
      this.#logger.warn(
        {
          err: describeError(err),
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
        },
        'handler failed; will redeliver',
      );
      return { kind: 'retry', afterMs: 0, reason: 'handler' };
    }
    entry.attempted.delete(record.offset);
    let window = entry.state.windows.get(msg.replayKey);
    if (window === undefined) {
      window = new ReplayWindow(o.clock.nowMs());
      entry.state.windows.set(msg.replayKey, window);
    }
    window.mark(msg.seq, o.clock.nowMs());
    if (entityKey !== undefined) entry.state.entityVersions.set(entityKey, msg.entityVersion);
    m?.opened.inc({ topic: record.topic });
    o.events?.emit({
      type: 'opened',
      messageId: delivery.messageId,
      sender: msg.senderIdentity,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      ...(schemaId === undefined ? {} : { schemaId }),
      ciphertextDigest: hex(hash256(o.crypto, record.value)),
      sizeBytes: record.value.length,
      group: o.groupId,
    });
    return DONE;
  }

  /**
   * Stops consuming: finishes the batch in hand, writes the last replay state and commits, leaves the
   * group, zeros the cached session keys and the state key. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer);
    this.#restarts.close();
    for (const u of this.#unsubscribe) u();
    for (const u of this.#consumerUnsubscribe) u();
    if (wasRunning) {
      // Hand nothing more out and let the batch in hand finish; then the last commit lowers the
      // hand-out mark as far as is true: past the committed offset, every record this member handed
      // out (a handler that threw leaves its record uncommitted) and every record the previous owner
      // may have handed out (the mark we loaded). After a clean close only those stay flagged.
      this.#closing = true;
      await Promise.all([...this.#activeBatches]);
      for (const p of this.#partitions.values()) {
        if (p.status !== 'ready' || p.state.nextOffset === null || p.state.handOutMark === null)
          continue;
        const floor = closingMarkFloor(p);
        if (p.state.handOutMark <= floor) continue;
        p.state.handOutMark = floor;
        p.dirty = true;
      }
      for (const p of this.#partitions.values()) {
        if (p.status === 'ready' && p.dirty) await this.#persist(p).catch(() => undefined);
        // Background writes still in flight finish while the consumer can still commit.
        await p.persisting;
      }
      // A crashed (or failed) transport consumer has left the group already.
      await this.#consumer
        .disconnect()
        .catch((err: unknown) =>
          this.#logger.warn({ err: describeError(err) }, 'consumer disconnect failed'),
        );
      await this.#producer.disconnect();
    }
    this.#opener?.close();
    this.#store?.close();
  }
}
