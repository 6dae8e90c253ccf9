/**
 * The transport port: the small, client-agnostic view of Kafka that sealpost's pipeline uses. The
 * kafkajs adapter (kafkajs-transport.ts) is one implementation; kafkajs has had no release since 2023,
 * so nothing outside src/kafka/ may depend on kafkajs types — only on these.
 *
 * Conventions:
 * - Offsets are decimal strings (Kafka offsets are int64; JS numbers lose precision above 2^53).
 * - A committed offset is the offset of the NEXT record to read (Kafka's convention), so after
 *   processing the record at offset `o` commit `o + 1`.
 * - Every failure is a TransportError (transport-error.ts) with `code` and `retriable`.
 */

import type { AclBinding } from './acl-binding.js';

/** A topic and one of its partitions. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/**
 * One Kafka record header. Kafka headers are an ordered list that may repeat a key; values may be
 * null. Order is kept among headers sharing a key; across distinct keys the kafkajs adapter keeps
 * insertion order except that integer-like keys ("1", "42") sort first (JavaScript object order).
 * The kafkajs adapter reads null values but cannot write them (INVALID_ARGUMENT): a record from
 * another client with a null header value cannot be re-published byte-exact through kafkajs.
 */
export interface TransportHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** A record to produce. */
export interface OutgoingRecord {
  /** The Kafka record key; null for none. */
  readonly key: Buffer | null;
  /** The record value; null is a tombstone. */
  readonly value: Buffer | null;
  readonly headers?: readonly TransportHeader[];
  /** CreateTime in ms since the epoch; when absent the client stamps its own. */
  readonly timestampMs?: number;
}

/**
 * Records for one explicit partition. The pipeline picks the partition before sealing (the
 * partition is bound into the envelope), so the transport never chooses one itself.
 */
export interface ProduceRequest {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly OutgoingRecord[];
}

/** The broker's acknowledgement of one ProduceRequest. */
export interface ProduceAck {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the first record of the request in the partition. */
  readonly baseOffset: string;
}

/** Metadata of one partition as the cluster reports it now. */
export interface PartitionInfo {
  readonly partition: number;
  /** Broker id of the leader; negative when the partition has no leader. */
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** Producer options common to every transport. */
export interface TransportProducerOptions {
  /** Idempotent producer (exactly-once per partition per producer session). Default true. */
  readonly idempotent?: boolean;
  /** Batch compression. Default `gzip` (identical session headers compress well). */
  readonly compression?: 'none' | 'gzip';
  /** Broker-side wait for acks=all, in ms. Default 30 000. */
  readonly ackTimeoutMs?: number;
  /** How long partition metadata used by `partitionFor` stays fresh, in ms. Default 300 000. */
  readonly metadataMaxAgeMs?: number;
}

/** Writes records. Always acks=all. */
export interface TransportProducer {
  connect(): Promise<void>;
  /**
   * Sends the records of one request to its partition; resolves once all replicas acknowledged. A
   * failure is a TransportError; `exhausted` when the adapter already retried it for at least one
   * request timeout (a caller should report it rather than repeat the wait at once).
   */
  send(request: ProduceRequest): Promise<ProduceAck>;
  /** Sends several requests in one round trip per broker. Acks are in request order. */
  sendBatch(requests: readonly ProduceRequest[]): Promise<ProduceAck[]>;
  /**
   * The partition the default partitioner (murmur2, Java- and kafkajs-compatible) assigns to `key`
   * on the topic's current metadata; round-robin over partitions with a leader for a null key.
   */
  partitionFor(topic: string, key: Buffer | null): Promise<number>;
  /** The topic's partition metadata (cached; see `metadataMaxAgeMs`). */
  partitions(
    topic: string,
    options?: { readonly refresh?: boolean },
  ): Promise<readonly PartitionInfo[]>;
  disconnect(): Promise<void>;
}

/** A record read from a partition. */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly TransportHeader[];
  /** The Kafka timestamp in ms (broker-supplied data: never use it for security decisions). */
  readonly timestampMs: number;
}

/** A run of consecutive records of one partition. */
export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  /** The partition's high watermark when the batch was fetched. */
  readonly highWatermark: string;
  readonly records: readonly ConsumedRecord[];
}

/**
 * Lets a batch handler steer consumption of its partition. Records that were not resolved when the
 * handler returns are fetched again (after a pause, from the first unresolved one).
 */
export interface BatchControl {
  /** Marks the record at `offset` (and all before it) processed: the fetch position moves past it. */
  resolveOffset(offset: string): void;
  /** Sends a group heartbeat; call it during long batches. */
  heartbeat(): Promise<void>;
  /**
   * Pauses this partition; unresolved records are fetched again after it resumes. With
   * `resumeAfterMs` it resumes by itself after that delay.
   */
  pause(options?: { readonly resumeAfterMs?: number }): void;
  /** False once the consumer is stopping: finish quickly and return. */
  isRunning(): boolean;
  /**
   * True when a seek or rebalance made the rest of this batch obsolete, or when the member cannot
   * prove it is still in the group (no heartbeat answered within its session, e.g. after a stall):
   * stop and return; unresolved records come again (to this member once it proved its membership,
   * or to the partition's next owner).
   */
  isStale(): boolean;
}

/**
 * Handles one batch of one partition. Throwing pauses the partition with backoff — except a
 * REBALANCE_IN_PROGRESS TransportError (from `heartbeat` or `commitOffsets` during a rebalance), which
 * makes the member rejoin the group at once; unresolved records are then read again by whoever owns
 * the partition next, from the last committed offset.
 */
export type BatchHandler = (batch: ConsumedBatch, control: BatchControl) => Promise<void>;

/**
 * What became of one record: `processed` moves past it; `retry` pauses the partition and delivers the
 * same record again later (after `retryAfterMs`, or after the consumer's backoff when absent).
 */
export type MessageOutcome =
  { readonly kind: 'processed' } | { readonly kind: 'retry'; readonly retryAfterMs?: number };

/** Handles one record. Throwing is treated as `{ kind: 'retry' }` with backoff (see BatchHandler). */
export type MessageHandler = (record: ConsumedRecord) => Promise<MessageOutcome>;

/** How to run a consumer: exactly one of `eachMessage` and `eachBatch`. */
export type ConsumerRunOptions = (
  | { readonly eachMessage: MessageHandler; readonly eachBatch?: undefined }
  | { readonly eachBatch: BatchHandler; readonly eachMessage?: undefined }
) & {
  /** How many partitions are handled at the same time. Default 1. */
  readonly partitionsConsumedConcurrently?: number;
  /** Called when a handler throws (the error is not logged with any record content). */
  readonly onHandlerError?: (err: unknown, at: TopicPartition) => void;
};

/** One offset commit: `offset` is the next offset to read; `metadata` is stored with it. */
export interface OffsetCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /**
   * Stored by the group coordinator next to the offset (at most `offset.metadata.max.bytes`, 4096 by
   * default). The pipeline keeps its replay-state pointer here.
   */
  readonly metadata: string | null;
}

/** Consumer options common to every transport. */
export interface TransportConsumerOptions {
  readonly groupId: string;
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly rebalanceTimeoutMs?: number;
  /** Upper bound of bytes fetched per partition per request. */
  readonly maxBytesPerPartition?: number;
  /**
   * How long a fetch waits on the broker for new data, in ms. Pause, resume and seek take effect at
   * the next fetch, so this bounds their latency. Default 1000 (kafkajs's own default is 5000).
   */
  readonly maxWaitTimeMs?: number;
  /** Backoff for handler failures without an explicit delay: first delay in ms. Default 200. */
  readonly retryInitialDelayMs?: number;
  /** Backoff cap in ms. Default 30 000. */
  readonly retryMaxDelayMs?: number;
}

/** Why the consumer stopped on its own. */
export interface ConsumerCrash {
  readonly error: unknown;
  /** True when the client restarts the consumer by itself. */
  readonly willRestart: boolean;
}

/** Reads records as a member of a consumer group. Offsets are committed only explicitly. */
export interface TransportConsumer {
  connect(): Promise<void>;
  subscribe(options: {
    readonly topics: readonly string[];
    readonly fromBeginning?: boolean;
  }): Promise<void>;
  /** Starts consuming; resolves once the run loop has started (not when it ends). */
  run(options: ConsumerRunOptions): Promise<void>;
  /** Commits offsets with their metadata for this consumer's group. */
  commitOffsets(commits: readonly OffsetCommit[]): Promise<void>;
  /**
   * Stops fetching these partitions; with `resumeAfterMs` they resume by themselves. Needs a running
   * consumer (NOT_CONNECTED before `run`); pausing inside an `onAssignment` listener is fine.
   */
  pause(partitions: readonly TopicPartition[], options?: { readonly resumeAfterMs?: number }): void;
  resume(partitions: readonly TopicPartition[]): void;
  /** The partitions paused now. */
  paused(): TopicPartition[];
  /** Makes the next fetch of the partition start at `offset` (takes effect at the next fetch). */
  seek(at: TopicPartition, offset: string): void;
  /**
   * Called synchronously right after this member received its assignment and before the first fetch
   * of it, so a listener can `pause` partitions while it loads per-partition state. kafkajs offers no
   * revocation callback: commit after every batch and treat REBALANCE_IN_PROGRESS on commit as a
   * signal that the partition may be gone. When the member may have been out of the group since its
   * previous assignment (fenced after a stall, a generation it did not sync, a restarted client), the
   * listener is first called with an empty assignment: nothing known about a partition before may be
   * kept. Returns a function that removes the listener.
   */
  onAssignment(listener: (assignment: readonly TopicPartition[]) => void): () => void;
  /** Called when the group starts rebalancing. */
  onRebalancing(listener: () => void): () => void;
  /** Called when the consumer stops on an error. */
  onCrash(listener: (crash: ConsumerCrash) => void): () => void;
  /** Stops the run loop (waits for the batch in hand), leaves the group, closes connections. */
  disconnect(): Promise<void>;
}

/** A topic to create. */
export interface TopicSpec {
  readonly topic: string;
  /** Default 1. */
  readonly numPartitions?: number;
  /** Default: the broker's default (-1). */
  readonly replicationFactor?: number;
  /** Sets `cleanup.policy=compact` (state, directory and entity topics). */
  readonly compacted?: boolean;
  /** Further topic configs, e.g. `{ 'retention.ms': '604800000' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** A topic's partitions as described by the cluster. */
export interface TopicDescription {
  readonly topic: string;
  readonly partitions: readonly PartitionInfo[];
}

/** A committed offset as stored by the group coordinator. */
export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  /** `-1` when the group has committed nothing for the partition. */
  readonly offset: string;
  readonly metadata: string | null;
}

/** Earliest and latest offsets of one partition. */
export interface PartitionOffsets {
  readonly partition: number;
  /** Log start offset. */
  readonly low: string;
  /** High watermark (offset of the next record to be written). */
  readonly high: string;
}

/** Cluster administration the pipeline, workers and tests need. */
export interface TransportAdmin {
  connect(): Promise<void>;
  /** Creates topics and waits for their leaders. Resolves false if some existed already. */
  createTopics(topics: readonly TopicSpec[]): Promise<boolean>;
  deleteTopics(topics: readonly string[]): Promise<void>;
  listTopics(): Promise<string[]>;
  describeTopics(topics: readonly string[]): Promise<TopicDescription[]>;
  /** The topic's config entries (e.g. `cleanup.policy`). */
  describeTopicConfig(topic: string): Promise<Record<string, string>>;
  /** The group's committed offsets and their metadata, for every partition of each topic. */
  fetchCommittedOffsets(groupId: string, topics: readonly string[]): Promise<CommittedOffset[]>;
  fetchTopicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /**
   * Deletes consumer groups that have no members (a throwaway reader's group, with its committed
   * offsets). A group with members, or one the broker does not know, fails (TRANSPORT_FAILED).
   */
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  /** Every ACL binding the cluster holds (needs DESCRIBE on the cluster; see src/acl). */
  describeAcls(): Promise<AclBinding[]>;
  /** Creates bindings (creating an existing one is a no-op on the broker). */
  createAcls(bindings: readonly AclBinding[]): Promise<void>;
  /** Deletes exactly these bindings (each is an exact-match filter). */
  deleteAcls(bindings: readonly AclBinding[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** A Kafka client: a factory of producers, consumers and admins sharing connection settings. */
export interface Transport {
  producer(options?: TransportProducerOptions): TransportProducer;
  consumer(options: TransportConsumerOptions): TransportConsumer;
  admin(): TransportAdmin;
}
