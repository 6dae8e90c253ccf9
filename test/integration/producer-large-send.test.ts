/**
 * A send larger than one produce request may carry is delivered, not refused: 800 suite-2 (X-Wing)
 * records sealed to three recipients (each record carries the session header with three 1,232-byte
 * slots, docs/SPEC.md §2.2, so about 4 KB) with compression 'none', over 2 partitions: about 1.6 MB a
 * partition, beyond the broker's default message.max.bytes (1,048,588) for one record batch, while
 * every record fits. The producer splits the send into produce requests under `maxRequestBytes`.
 *
 * Ledger invariant: every message got a result with an acknowledged (partition, offset), result i is
 * message i, offsets grow with the message order on each partition (the chunks went out in order),
 * and the consumer opens every acknowledged message exactly once and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { SuitePolicy } from '../../src/keys/suite-policy.js';
import type { SentMessage } from '../../src/pipeline/sealed-producer.js';
import { waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'large-send',
  clientId: 'producer-large-send',
  partitions: 2,
  recipients: ['billing', 'ledger', 'archive'],
  services: (names, defaults) => defaults.map((s) => ({ ...s, xwing: true })),
});

const COUNT = 800;

describe('a send larger than one produce request', () => {
  it('is split, delivered in order, every message acknowledged and opened exactly once', async () => {
    const policy = new SuitePolicy({ topics: { [sc.topic]: 'require' } });
    const billing = await sc.consumer('billing', { suitePolicy: policy, keepDeliveries: true });
    const orders = await sc.producer('orders', {
      suitePolicy: policy,
      producerOptions: { compression: 'none' },
    });
    const messages = Array.from({ length: COUNT }, (_, i) => ({
      key: `customer-${i}`,
      value: { id: `o-${i}`, cents: i, note: 'large send' },
    }));
    const sent: SentMessage[] = await orders.producer.send({ topic: sc.topic, messages });

    // Every message acknowledged, result i describing message i, each at its own coordinates.
    expect(sent).toHaveLength(COUNT);
    expect(sent.map((r) => r.index)).toEqual(messages.map((_, i) => i));
    expect(new Set(sent.map((r) => `${r.partition}/${r.offset}`)).size).toBe(COUNT);
    expect(new Set(sent.map((r) => r.messageId)).size).toBe(COUNT);
    const perPartition = new Map<number, number>();
    for (const r of sent) perPartition.set(r.partition, (perPartition.get(r.partition) ?? 0) + 1);
    expect(perPartition.size).toBe(2);
    // In the order of the messages on each partition: offsets (and seqs) grow with the index.
    const last = new Map<number, { offset: bigint; seq: number }>();
    for (const r of sent) {
      const before = last.get(r.partition);
      if (before !== undefined) {
        expect(BigInt(r.offset)).toBeGreaterThan(before.offset);
        expect(r.seq).toBeGreaterThan(before.seq);
      }
      last.set(r.partition, { offset: BigInt(r.offset), seq: r.seq });
    }

    await waitFor(() => billing.total() >= COUNT, 'the consumer opened every message', 120_000);
    const acked = new Set(sent.map((r) => r.messageId));
    const twice = [...billing.delivered].filter(([, n]) => n !== 1);
    const unknown = [...billing.delivered.keys()].filter((id) => !acked.has(id));
    const missing = [...acked].filter((id) => !billing.delivered.has(id));
    expect({ twice, unknown, missing }).toEqual({ twice: [], unknown: [], missing: [] });
    // Handed out at the coordinates the producer reported.
    const at = new Map(sent.map((r) => [r.messageId, `${r.partition}/${r.offset}`]));
    const moved = billing.deliveries.filter(
      (d) => at.get(d.messageId) !== `${d.partition}/${d.offset}`,
    );
    expect(moved).toHaveLength(0);
  });
});
