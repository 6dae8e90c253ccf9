/**
 * `SealedProducer.send` results are in the order of the messages given (issue #14 item 10): 1,000
 * messages with distinct keys over 6 partitions, and result i must describe message i — checked against
 * what the broker holds at each result's (partition, offset): the record key of message i.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/kafka/transport.js';
import { readRaw } from '../support/pipeline-parties.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'send-results',
  clientId: 'producer-send-results',
  partitions: 6,
  pipelineTopics: false,
});
const { topic, transport } = sc;

describe('SealedProducer.send results', () => {
  it('come back in the order of the messages given, result i describing message i', async () => {
    const orders = await sc.producer();
    const count = 1000;
    const messages = Array.from({ length: count }, (_, i) => ({
      key: `customer-${i}`,
      value: { id: `o-${i}`, cents: i, note: 'order' },
    }));
    let results;
    try {
      results = await orders.producer.send({ topic, messages });
    } finally {
      await orders.producer.close();
    }
    expect(results.length).toBe(count);
    expect(new Set(results.map((r) => r.partition)).size).toBeGreaterThan(1);

    // What the broker holds at each result's coordinates is the record of the message at that index.
    const raw: ConsumedRecord[] = await readRaw(transport, topic, count);
    const keyAt = new Map(raw.map((r) => [`${r.partition}/${r.offset}`, r.key?.toString('utf8')]));
    const mismatched = results.filter(
      (r, i) => keyAt.get(`${r.partition}/${r.offset}`) !== messages[i]!.key,
    );
    expect(mismatched.length).toBe(0);
    expect(results.map((r) => r.index)).toEqual(messages.map((_, i) => i));
    // Seqs grow per partition in the order of the messages given.
    const lastSeq = new Map<number, number>();
    for (const r of results) {
      expect(r.seq).toBeGreaterThan(lastSeq.get(r.partition) ?? -1);
      lastSeq.set(r.partition, r.seq);
    }
  });
});
