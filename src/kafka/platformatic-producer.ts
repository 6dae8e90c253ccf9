/**
 * The producer of the @platformatic/kafka adapter: idempotent (the client then sends acks=all with one
 * request in flight per broker and sequence numbers per partition), explicit partitions only (the
 * pipeline binds the partition into the envelope), gzip or no compression.
 */
import { Producer, type ClusterMetadata } from '@platformatic/kafka';
import { DefaultPartitioner } from './default-partitioner.js';
import { checkPartition } from './offset-checks.js';
import { exhaustedAfter, mapped, toTransportError } from './platformatic-errors.js';
import { toPlatformaticMessage } from './platformatic-records.js';
import type { PlatformaticClientOptions } from './platformatic-options.js';
import type {
  OutgoingRecord,
  PartitionInfo,
  ProduceAck,
  ProduceRequest,
  TransportProducer,
  TransportProducerOptions,
} from './transport.js';
import { TransportError } from './transport-error.js';

interface CachedPartitions {
  readonly partitions: readonly PartitionInfo[];
  readonly fetchedAtMs: number;
}

/** The partitions of `topic` in cluster metadata, sorted; TOPIC_NOT_FOUND when it has none. */
export function partitionsOf(metadata: ClusterMetadata, topic: string): PartitionInfo[] {
  const meta = metadata.topics.get(topic);
  if (meta === undefined || meta.partitions.length === 0) {
    throw new TransportError('TOPIC_NOT_FOUND', 'the topic is not in the cluster metadata', {
      retriable: true,
    });
  }
  return meta.partitions.map((p, partition) => ({
    partition,
    leader: p.leader,
    replicas: [...p.replicas],
    isr: [...p.isr],
  }));
}

export class PlatformaticProducer implements TransportProducer {
  readonly #producer: Producer;
  readonly #nowMs: () => number;
  readonly #requestTimeoutMs: number;
  readonly #metadataMaxAgeMs: number;
  readonly #partitioner: DefaultPartitioner;
  readonly #compression: 'gzip' | 'none';
  readonly #idempotent: boolean;
  readonly #metadata = new Map<string, CachedPartitions>();

  constructor(client: PlatformaticClientOptions, options: TransportProducerOptions) {
    this.#idempotent = options.idempotent ?? true;
    this.#compression = options.compression ?? 'gzip';
    this.#producer = new Producer({
      ...client.base,
      idempotent: this.#idempotent,
      acks: -1,
      // Broker-side wait for the acks of all in-sync replicas.
      timeout: options.ackTimeoutMs ?? 30_000,
      autocreateTopics: false,
      compression: this.#compression,
      // The client retries an idempotent producer forever when `retries` is unset, 0 or 1; a broker
      // that stays away must surface as BROKER_UNAVAILABLE like with kafkajs. The tries of one
      // request are bounded by the delivery timeout (platformatic-options.ts): three by default, so
      // a send whose tries each wait out the 30 s request timeout fails after about 90 s.
      retries: client.produceRetries,
      ...client.producerConfig,
    });
    this.#nowMs = client.nowMs;
    this.#requestTimeoutMs = client.requestTimeoutMs;
    this.#metadataMaxAgeMs = options.metadataMaxAgeMs ?? 300_000;
    this.#partitioner = new DefaultPartitioner(client.partitionerStart);
  }

  async connect(): Promise<void> {
    await mapped('producer connect', () => this.#producer.metadata({ topics: [] }));
    if (this.#idempotent) {
      await mapped('producer connect', () =>
        this.#producer.initIdempotentProducer({ idempotent: true, acks: -1 }),
      );
    }
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
    // The client reduces a partition modulo the topic's partition count: a partition the topic does
    // not have must be refused here instead of landing in another one.
    for (const topic of new Set(requests.map((r) => r.topic))) {
      let partitions = await this.partitions(topic);
      const highest = Math.max(
        ...requests.filter((r) => r.topic === topic).map((r) => r.partition),
      );
      if (highest >= partitions.length)
        partitions = await this.partitions(topic, { refresh: true });
      if (highest >= partitions.length) {
        throw new TransportError('TOPIC_NOT_FOUND', 'the topic has no such partition', {
          retriable: true,
          brokerErrorType: 'UNKNOWN_TOPIC_OR_PARTITION',
        });
      }
    }
    if (requests.every((r) => r.records.length === 0)) {
      throw new TransportError('INVALID_ARGUMENT', 'a produce request needs at least one record');
    }
    const now = this.#nowMs();
    if (!requests.some((r) => spansWideTimestamps(r, now))) return this.#sendOnce(requests);
    // Rare: records whose timestamps lie far apart go out in runs (see timestampRuns), one send per
    // run in order; a request's ack is the base offset of its first run.
    const acks: ProduceAck[] = [];
    for (const r of requests) {
      let first: ProduceAck | undefined;
      for (const run of timestampRuns(r.records, now)) {
        const [ack] = await this.#sendOnce([{ ...r, records: run }]);
        first ??= ack;
      }
      if (first !== undefined) acks.push(first);
    }
    return acks;
  }

  async #sendOnce(requests: readonly ProduceRequest[]): Promise<ProduceAck[]> {
    const messages = requests.flatMap((r) =>
      r.records.map((rec) => toPlatformaticMessage(r.topic, r.partition, rec)),
    );
    const started = this.#nowMs();
    let result: Awaited<ReturnType<Producer['send']>>;
    try {
      result = await this.#producer.send({ messages, acks: -1, compression: this.#compression });
    } catch (err) {
      // The client calls back once every try of this send has settled (a try that timed out closed
      // its connection) and, for an idempotent producer, then drops its producer id and sequence
      // numbers: the next send runs under a new producer id, so a try the broker appended without
      // answering cannot put a later send out of sequence; its copy is a duplicate the consumer
      // detects (docs/SPEC.md §6).
      throw exhaustedAfter(
        toTransportError(err, 'produce'),
        this.#nowMs() - started,
        this.#requestTimeoutMs,
      );
    }
    // One base offset per (topic, partition) written; the records of one partition are written in
    // the order given, so a later request to the same partition starts where the earlier ones ended.
    const written = new Map<string, bigint>();
    return requests.map((r) => {
      const m = result.offsets?.find((x) => x.topic === r.topic && x.partition === r.partition);
      if (m === undefined) {
        throw new TransportError(
          'TRANSPORT_FAILED',
          'the broker acknowledgement lacks a partition',
          { retriable: false },
        );
      }
      const key = `${r.topic}\u0000${r.partition}`;
      const before = written.get(key) ?? 0n;
      written.set(key, before + BigInt(r.records.length));
      return { topic: r.topic, partition: r.partition, baseOffset: (m.offset + before).toString() };
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
    const metadata = await mapped('partition metadata', () =>
      this.#producer.metadata({ topics: [topic], forceUpdate: true, autocreateTopics: false }),
    );
    const partitions = partitionsOf(metadata, topic);
    this.#metadata.set(topic, { partitions, fetchedAtMs: now });
    return partitions;
  }

  async partitionFor(topic: string, key: Buffer | null): Promise<number> {
    return this.#partitioner.partition(topic, key, await this.partitions(topic));
  }

  async disconnect(): Promise<void> {
    await mapped('producer disconnect', () => this.#producer.close());
  }
}

/**
 * @platformatic/kafka 2.12.1 writes a record's timestamp as a delta to its batch's first timestamp
 * with a varint64 encoder (@platformatic/dynamic-buffer 0.3.1) that is only right for deltas in
 * [-2^31, 2^31) ms (about 24.8 days): a wider delta reaches the broker as a different timestamp.
 * Records whose timestamps (explicit, or "now" for absent ones) lie further apart than
 * TIMESTAMP_SPREAD_MS from the first of their run are sent as separate runs, so each batch stays in
 * the range the encoder handles. docs/TRANSPORTS.md names the defect.
 */
const TIMESTAMP_SPREAD_MS = 2 ** 30;

function timestampOf(record: OutgoingRecord, now: number): number {
  return record.timestampMs ?? now;
}

function spansWideTimestamps(request: ProduceRequest, now: number): boolean {
  // `now` (the injected clock) only estimates the client's own stamp of records without a
  // timestamp; the margin (2^30 of the 2^31 the encoder handles) absorbs the difference.
  const first = request.records[0];
  if (first === undefined) return false;
  const base = timestampOf(first, now);
  return request.records.some((r) => Math.abs(timestampOf(r, now) - base) >= TIMESTAMP_SPREAD_MS);
}

/** Consecutive runs of records whose timestamps lie within TIMESTAMP_SPREAD_MS of the run's first. */
export function timestampRuns(records: readonly OutgoingRecord[], now: number): OutgoingRecord[][] {
  const runs: OutgoingRecord[][] = [];
  let base = 0;
  for (const record of records) {
    const t = timestampOf(record, now);
    const run = runs.at(-1);
    if (run !== undefined && Math.abs(t - base) < TIMESTAMP_SPREAD_MS) run.push(record);
    else {
      runs.push([record]);
      base = t;
    }
  }
  return runs;
}
