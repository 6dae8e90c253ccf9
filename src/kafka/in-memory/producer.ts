/**
 * The in-memory producer: acks=all on a single in-memory broker. A request's records are appended to
 * its partition in order and acknowledged with the offset of the first; the requests of one
 * `sendBatch` are written in request order (the acks in request order, like the kafkajs adapter's).
 * Partitions for keys come from the same DefaultPartitioner the kafkajs adapter uses.
 */
import { DefaultPartitioner } from '../default-partitioner.js';
import { checkPartition } from '../offset-checks.js';
import type {
  PartitionInfo,
  ProduceAck,
  ProduceRequest,
  TransportProducer,
  TransportProducerOptions,
} from '../transport.js';
import { TransportError } from '../transport-error.js';
import { IN_MEMORY_BROKER_ID, type InMemoryCluster } from './cluster.js';

/** What the producer needs from the transport that made it. */
export interface InMemoryProducerContext {
  readonly cluster: InMemoryCluster;
  readonly partitionerStart: ((topic: string) => number) | undefined;
  /** True once the transport that made this producer was killed (test fault). */
  readonly killed: () => boolean;
}

/** The partitions of a topic as the single in-memory broker reports them. */
export function describePartitions(cluster: InMemoryCluster, topic: string): PartitionInfo[] {
  return Array.from({ length: cluster.partitionCount(topic) }, (_, partition) => ({
    partition,
    leader: IN_MEMORY_BROKER_ID,
    replicas: [IN_MEMORY_BROKER_ID],
    isr: [IN_MEMORY_BROKER_ID],
  }));
}

/** See the module comment. */
export class InMemoryProducer implements TransportProducer {
  readonly #c: InMemoryProducerContext;
  readonly #partitioner: DefaultPartitioner;
  /** What the broker measures a batch by (its size limit, batch-size.ts). */
  readonly #compression: 'none' | 'gzip';
  readonly #metadataMaxAgeMs: number;
  readonly #metadata = new Map<string, { partitions: PartitionInfo[]; fetchedAtMs: number }>();
  #connected = false;

  constructor(context: InMemoryProducerContext, options: TransportProducerOptions) {
    this.#c = context;
    this.#partitioner = new DefaultPartitioner(context.partitionerStart);
    this.#metadataMaxAgeMs = options.metadataMaxAgeMs ?? 300_000;
    this.#compression = options.compression ?? 'gzip';
  }

  async connect(): Promise<void> {
    this.#alive('producer connect');
    await this.#c.cluster.call('producer connect', () => undefined);
    this.#connected = true;
  }

  async send(request: ProduceRequest): Promise<ProduceAck> {
    const [ack] = await this.sendBatch([request]);
    return ack!;
  }

  async sendBatch(requests: readonly ProduceRequest[]): Promise<ProduceAck[]> {
    for (const r of requests) checkPartition(r.partition);
    this.#alive('produce');
    if (!this.#connected)
      throw new TransportError('NOT_CONNECTED', 'produce: the producer is not connected');
    if (requests.length === 0) return [];
    const bases = await this.#c.cluster.call('produce', () => {
      this.#alive('produce');
      return this.#c.cluster.append(requests, this.#compression);
    });
    return requests.map((r, i) => ({
      topic: r.topic,
      partition: r.partition,
      baseOffset: bases[i]!.toString(),
    }));
  }

  async partitions(
    topic: string,
    options: { readonly refresh?: boolean } = {},
  ): Promise<readonly PartitionInfo[]> {
    const cached = this.#metadata.get(topic);
    const now = this.#c.cluster.scheduler.nowMs();
    if (
      options.refresh !== true &&
      cached !== undefined &&
      now - cached.fetchedAtMs < this.#metadataMaxAgeMs
    )
      return cached.partitions;
    const partitions = await this.#c.cluster.call('partition metadata', () => {
      this.#alive('partition metadata');
      return describePartitions(this.#c.cluster, topic);
    });
    this.#metadata.set(topic, { partitions, fetchedAtMs: now });
    return partitions;
  }

  async partitionFor(topic: string, key: Buffer | null): Promise<number> {
    return this.#partitioner.partition(topic, key, await this.partitions(topic));
  }

  async disconnect(): Promise<void> {
    this.#connected = false;
    await Promise.resolve();
  }

  #alive(operation: string): void {
    if (this.#c.killed())
      throw new TransportError('NOT_CONNECTED', `${operation}: the client was killed (test fault)`);
  }
}
