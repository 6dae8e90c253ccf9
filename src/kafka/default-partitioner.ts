import type { PartitionInfo } from './transport.js';
import { TransportError } from './transport-error.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, which kafkajs's DefaultPartitioner copies), in
 * 32-bit integer arithmetic. Returns a signed 32-bit integer.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
    if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Same as the Java client's `Utils.toPositive`: clears the sign bit (not Math.abs). */
function toPositive(x: number): number {
  return x & 0x7fffffff;
}

/**
 * Kafka's default partitioner for keyed records (`toPositive(murmur2(key)) % numPartitions`, over ALL
 * partitions, as the Java client and kafkajs do) and round-robin over partitions that have a leader for
 * null keys. Kept free of any client library so the pipeline can choose the partition before sealing
 * and so another Kafka client can be plugged in behind the transport port.
 */
export class DefaultPartitioner {
  readonly #counters = new Map<string, number>();

  /**
   * @param startCounter first round-robin position per topic (kafkajs starts at a random value; pass
   *   one from the injected random source to spread producers).
   */
  constructor(private readonly startCounter: (topic: string) => number = () => 0) {}

  /** The partition for `key` on `topic` given its current partitions (any order). */
  partition(topic: string, key: Uint8Array | null, partitions: readonly PartitionInfo[]): number {
    const numPartitions = partitions.length;
    if (numPartitions === 0) {
      throw new TransportError(
        'TOPIC_NOT_FOUND',
        'the topic has no partitions in the current metadata',
        {
          retriable: true,
        },
      );
    }
    if (key !== null) {
      return toPositive(murmur2(key)) % numPartitions;
    }
    const next = (this.#counters.get(topic) ?? toPositive(this.startCounter(topic))) + 1;
    this.#counters.set(topic, next & 0x7fffffff);
    const available = partitions
      .filter((p) => p.leader >= 0)
      .sort((a, b) => a.partition - b.partition);
    if (available.length > 0) {
      return available[toPositive(next) % available.length]!.partition;
    }
    return toPositive(next) % numPartitions;
  }
}
