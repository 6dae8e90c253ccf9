import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DefaultPartitioner, murmur2 } from '../../../src/kafka/default-partitioner.js';
import type { PartitionInfo } from '../../../src/kafka/transport.js';
import { TransportError } from '../../../src/kafka/transport-error.js';

const { Partitioners } = kafkajs;

function partitionsOf(n: number, leaderless: readonly number[] = []): PartitionInfo[] {
  return Array.from({ length: n }, (_, partition) => ({
    partition,
    leader: leaderless.includes(partition) ? -1 : 0,
    replicas: [0],
    isr: [0],
  }));
}

/** kafkajs's own DefaultPartitioner, fed the partition metadata shape it expects. */
function kafkajsPartition(key: Buffer, numPartitions: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  return partitioner({
    topic: 't',
    partitionMetadata: partitionsOf(numPartitions).map((p) => ({
      partitionId: p.partition,
      leader: p.leader,
      partitionErrorCode: 0,
      replicas: [...p.replicas],
      isr: [...p.isr],
    })),
    message: { key, value: null },
  });
}

describe('murmur2', () => {
  it('matches the Java client test vectors (Kafka UtilsTest.testMurmur2)', () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [input, expected] of vectors) {
      expect(murmur2(Buffer.from(input, 'utf8'))).toBe(expected);
    }
  });
});

describe('DefaultPartitioner', () => {
  it('agrees with kafkajs DefaultPartitioner on 20 000 random keys and partition counts', () => {
    const ours = new DefaultPartitioner();
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      const key = randomBytes(i % 97);
      const n = 1 + (i % 64);
      expect(ours.partition('t', key, partitionsOf(n))).toBe(kafkajsPartition(key, n));
      checked++;
    }
    expect(checked).toBe(20_000);
  });

  it('agrees with kafkajs for arbitrary keys (property)', () => {
    const ours = new DefaultPartitioner();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 1, max: 1000 }),
        (bytes, n) => {
          const key = Buffer.from(bytes);
          return ours.partition('t', key, partitionsOf(n)) === kafkajsPartition(key, n);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('hashes over all partitions even when some have no leader (as Java and kafkajs do)', () => {
    const key = Buffer.from('order-42');
    const all = new DefaultPartitioner().partition('t', key, partitionsOf(12));
    expect(new DefaultPartitioner().partition('t', key, partitionsOf(12, [all]))).toBe(all);
  });

  it('round-robins null keys over partitions with a leader', () => {
    const p = new DefaultPartitioner(() => 0);
    const seen = Array.from({ length: 8 }, () => p.partition('t', null, partitionsOf(4, [2])));
    expect(seen).toEqual([1, 3, 0, 1, 3, 0, 1, 3]);
    // Counters are per topic.
    expect(p.partition('u', null, partitionsOf(4))).toBe(1);
  });

  it('refuses a topic without partitions with a retriable TOPIC_NOT_FOUND', () => {
    try {
      new DefaultPartitioner().partition('t', Buffer.from('k'), []);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe('TOPIC_NOT_FOUND');
      expect((err as TransportError).retriable).toBe(true);
    }
  });
});
