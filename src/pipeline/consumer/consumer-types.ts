/**
 * The consumer's public types (re-exported by src/pipeline/sealed-consumer.ts, docs/API.md): its
 * options, what the handler receives, and the handler.
 */
import type { SuitePolicy } from '../../keys/suite-policy.js';
import type { SealpostTracing } from '../../observability/tracing.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import type { OpenPolicy } from '../../envelope/opened-session.js';
import type {
  Transport,
  TransportConsumerOptions,
  TransportHeader,
} from '../../kafka/transport.js';
import type { KeyDirectory } from '../../keys/directory/key-directory.js';
import type { IdentitySource } from '../../keys/identity-source.js';
import type { LoadedIdentity } from '../../keys/identity.js';
import type { Kms } from '../../keys/kms/kms.js';
import type { AvroCodec } from '../../registry/avro-codec.js';
import type { SchemaRegistryClient } from '../../registry/schema-registry-client.js';
import type { Clock } from '../../runtime/clock.js';
import type { AdmissionOptions } from '../admission-control.js';
import type { DeadLetterBreakerOptions } from '../dead-letter-breaker.js';
import type { MetadataSink } from '../metadata-sink.js';
import type { PipelineLogger } from '../pipeline-logger.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';

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
  /**
   * Envelope suite per topic (docs/SECURITY.md "Post-quantum sealing"): a `require` topic refuses
   * suite-1 records, a `classical` one suite-2 records unless it opts in (SUITE_NOT_ALLOWED, dead
   * letter). Default SuitePolicy.CLASSICAL.
   */
  readonly suitePolicy?: SuitePolicy;
  /**
   * Pinned id of the suite-2 envelope schema; default: registered under `<envelopeSubject>-xwing` at
   * run() when the suite policy may open suite 2 (without it suite-2 records are WRONG_SCHEMA_ID).
   */
  readonly suite2EnvelopeSchemaId?: number;
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
