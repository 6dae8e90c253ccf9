/**
 * SealedProducer → real Kafka + registry → SealedConsumer: 10,000 messages with 1 and with 3
 * recipients, each delivered exactly once to each recipient with verified metadata; a service that is
 * not a recipient receives nothing and counts what it skipped; nothing is dead-lettered.
 */
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnvelopeSchemaText } from '../../src/pipeline/envelope-schema.js';
import { AvroCodec } from '../../src/registry/avro-codec.js';
import { waitFor, waitForCommitted } from '../support/test-transport.js';
import { type TestConsumer, type TestProducer } from '../support/pipeline-parties.js';
import {
  counterValue,
  ORDER_SCHEMA,
  type Order,
  type PipelineWorld,
} from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-rt',
  clientId: 'pipeline-roundtrip',
  topics: ['pipe-one', 'pipe-three'],
  partitions: 3,
  services: ({ topics: [one, three], t }) => [
    { name: 'orders', send: [one!, three!], receive: [] },
    { name: 'billing', send: [], receive: [one!, three!] },
    { name: 'shipping', send: [], receive: [three!] },
    { name: 'analytics', send: [], receive: [three!] },
    { name: 'outsider', send: [], receive: ['unrelated'] },
    { name: 'audit', send: [], receive: [t.metadata] },
  ],
});
const [one, three] = sc.topics as [string, string];
const { t, transport } = sc;

const N = 10_000;
let orders: TestProducer;
const producerMetrics = { current: undefined as undefined | ReturnType<PipelineWorld['metrics']> };
const consumers: TestConsumer[] = [];

async function sendAll(
  topic: string,
  recipients: readonly string[] | undefined,
): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let base = 0; base < N; base += 500) {
    const messages = Array.from({ length: 500 }, (_, i) => ({
      key: `customer-${(base + i) % 97}`,
      value: {
        id: `${topic}-${base + i}`,
        cents: base + i,
        note: 'x'.repeat((base + i) % 50),
      } satisfies Order,
    }));
    const sent = await orders.producer.send({
      topic,
      messages,
      ...(recipients === undefined ? {} : { recipients }),
    });
    for (const s of sent) ids.add(s.messageId);
  }
  return ids;
}

beforeAll(async () => {
  producerMetrics.current = sc.world.metrics();
  orders = await sc.producer('orders', {
    valueSchemas: { [one]: ORDER_SCHEMA, [three]: ORDER_SCHEMA },
    metrics: producerMetrics.current.metrics,
  });
});

afterAll(async () => {
  for (const c of consumers) await c.consumer.close();
});

describe('sealed round trip on the real stack', () => {
  it(`delivers ${N} messages once each with 1 recipient and with 3 recipients; a non-recipient gets nothing`, async () => {
    const sentOne = await sendAll(one, ['billing']);
    const sentThree = await sendAll(three, undefined);
    expect(sentOne.size).toBe(N);
    expect(sentThree.size).toBe(N);

    const common = { stateTopic: t.state, deadLetterTopic: t.dlq };
    const billing = await sc.consumer('billing', {
      ...common,
      groupId: `billing-${one}`,
      topics: [one, three],
      keepDeliveries: true,
    });
    const shipping = await sc.consumer('shipping', {
      ...common,
      groupId: `shipping-${three}`,
      topics: [three],
    });
    const analytics = await sc.consumer('analytics', {
      ...common,
      groupId: `analytics-${three}`,
      topics: [three],
      // A reader schema: the consumer's view drops `note` and adds a defaulted field.
      readerSchemas: {
        [three]: AvroCodec.parse(
          JSON.stringify({
            type: 'record',
            name: 'Order',
            namespace: 'dev.sealpost.it',
            fields: [
              { name: 'id', type: 'string' },
              { name: 'cents', type: 'long' },
              { name: 'currency', type: 'string', default: 'EUR' },
            ],
          }),
        ),
      },
      keepDeliveries: true,
    });
    const outsider = await sc.consumer('outsider', {
      ...common,
      groupId: `outsider-${one}`,
      topics: [one, three],
    });
    consumers.push(billing, shipping, analytics, outsider);

    await waitFor(
      () => billing.total() >= 2 * N && shipping.total() >= N && analytics.total() >= N,
      'all deliveries',
      300_000,
    );
    await waitFor(
      async () =>
        (await counterValue(outsider.promRegistry, 'sealpost_skipped_not_addressed_total')) >=
        2 * N,
      'the outsider to skip every record',
      120_000,
    );

    // Exactly once, each to its recipients only.
    expect(billing.total()).toBe(2 * N);
    expect([...billing.delivered.values()].every((n) => n === 1)).toBe(true);
    for (const id of sentOne) expect(billing.delivered.get(id)).toBe(1);
    for (const id of sentThree) {
      expect(billing.delivered.get(id)).toBe(1);
      expect(shipping.delivered.get(id)).toBe(1);
      expect(analytics.delivered.get(id)).toBe(1);
    }
    expect(shipping.total()).toBe(N);
    expect(analytics.total()).toBe(N);
    expect(outsider.total()).toBe(0);
    expect(await counterValue(outsider.promRegistry, 'sealpost_skipped_not_addressed_total')).toBe(
      2 * N,
    );

    // Verified metadata.
    const d = billing.deliveries.find((x) => x.topic === one)!;
    expect(d.sender).toBe('orders');
    expect(d.value).toMatchObject({ id: expect.stringMatching(new RegExp(`^${one}-`)) as unknown });
    expect(d.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(d.idempotencyKey).toMatch(/^[0-9a-f]{32}\.[0-9a-f]{32}\.\d+\.\d+$/);
    expect(typeof d.schemaId).toBe('number');
    expect(d.redelivery).toBe(false);
    const a = analytics.deliveries[0]!;
    expect(a.value).toEqual({
      id: expect.any(String) as unknown,
      cents: expect.any(Number) as unknown,
      currency: 'EUR',
    });
    // Idempotency keys name their own stream: unique over both topics, and the two topics' sessions
    // (one per topic) never share a stream id, though their deliveries interleave.
    expect(new Set(billing.deliveries.map((x) => x.idempotencyKey)).size).toBe(
      billing.deliveries.length,
    );
    const streamsOf = (tp: string) =>
      new Set(
        billing.deliveries.filter((x) => x.topic === tp).map((x) => x.idempotencyKey.split('.')[1]),
      );
    const streamsOne = streamsOf(one);
    for (const sid of streamsOf(three)) expect(streamsOne.has(sid)).toBe(false);
    // Per-partition ordering of seq within the stream.
    const byPartition = new Map<number, number>();
    for (const x of billing.deliveries.filter((y) => y.topic === one)) {
      const seq = Number(x.idempotencyKey.split('.')[3]);
      expect(seq).toBeGreaterThan(byPartition.get(x.partition) ?? -1);
      byPartition.set(x.partition, seq);
    }

    // The envelope schema is registered as is, so registry tools show the envelope's structure.
    const envelope = await sc.world.registry().getSchema(orders.producer.envelopeSchemaId);
    expect(JSON.parse(envelope.text)).toEqual(JSON.parse(await readEnvelopeSchemaText()));

    // Measured on this run (shared 2-core machine): mean seal and open time per message.
    const mean = async (r: Registry, name: string) => {
      const v = (await r.getSingleMetric(name)!.get()).values as {
        metricName?: string;
        value: number;
      }[];
      const sum = v.find((x) => x.metricName === `${name}_sum`)!.value;
      const count = v.find((x) => x.metricName === `${name}_count`)!.value;
      return { count, meanUs: Math.round((sum / count) * 1e6 * 10) / 10 };
    };
    console.info(
      'seal',
      await mean(producerMetrics.current!.registry, 'sealpost_seal_seconds'),
      'open (billing)',
      await mean(billing.promRegistry, 'sealpost_open_seconds'),
    );

    for (const c of [billing, shipping, analytics, outsider]) {
      expect(await counterValue(c.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);
    }
    const admin = transport.admin();
    await admin.connect();
    try {
      const dlq = await admin.fetchTopicOffsets(t.dlq);
      expect(dlq.every((p) => p.high === '0')).toBe(true);
      // Offsets committed to the end with a replay-state pointer (the state write and commit run in
      // the background after the hand-outs, so wait for them to reach the end).
      const offsets = await admin.fetchTopicOffsets(one);
      await waitForCommitted(
        transport,
        `billing-${one}`,
        one,
        Object.fromEntries(offsets.map((o) => [o.partition, BigInt(o.high)])),
      );
      const committed = await admin.fetchCommittedOffsets(`billing-${one}`, [one]);
      for (const c of committed) {
        expect(c.offset).toBe(offsets.find((o) => o.partition === c.partition)!.high);
        expect(c.metadata).toMatch(/^sealpost-replay\/v2 \d+ [0-9a-f]{64} \d+:\d+ \d+:\d+$/);
      }
    } finally {
      await admin.disconnect();
    }
  });
});
