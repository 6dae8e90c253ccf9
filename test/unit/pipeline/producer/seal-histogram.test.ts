/**
 * The producer's seal histogram (docs/OPERATIONS.md, `sealpost_seal_seconds`): one observation per
 * sealed record, in the histogram's one unlabelled series, whatever way the producer records it. A
 * real SealedProducer (real crypto, identities and signed directory) on the in-memory transport; the
 * figures are read back from the prom-client registry the application scrapes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from 'prom-client';
import { SealedProducer } from '../../../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../../../src/registry/schema-registry-client.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../../src/testing.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../../../model/registry-fake.js';
import { makePipelineWorld, type PipelineWorld } from '../../../support/pipeline-world.js';

const TOPIC = 'hist-orders';

let world: PipelineWorld;
beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [TOPIC], receive: [] },
    { name: 'billing', send: [], receive: [TOPIC] },
  ]);
});
afterAll(async () => {
  await world?.cleanup();
});

/** The seal histogram's series: count, sum and cumulative buckets, by label set. */
async function sealSeries(registry: Registry) {
  const metric = registry.getSingleMetric('sealpost_seal_seconds');
  if (metric === undefined) throw new Error('no seal histogram');
  const { values } = await metric.get();
  const series = new Set(
    values.map((v) => JSON.stringify(Object.entries(v.labels).filter(([k]) => k !== 'le'))),
  );
  const pick = (name: string) =>
    values.filter((v) => (v as { metricName?: string }).metricName === name).map((v) => v.value);
  return {
    series: [...series],
    count: pick('sealpost_seal_seconds_count'),
    sum: pick('sealpost_seal_seconds_sum'),
    buckets: pick('sealpost_seal_seconds_bucket'),
  };
}

describe('the seal histogram', () => {
  it('observes each sealed record once, in its one unlabelled series, also after a registry reset', async () => {
    const cluster = new InMemoryCluster();
    const transport = createInMemoryTransport({ cluster, clientId: 'hist' });
    const admin = transport.admin();
    await admin.connect();
    await admin.createTopics([{ topic: TOPIC, numPartitions: 3 }]);
    await admin.disconnect();
    const { registry, metrics } = world.metrics();
    const producer = new SealedProducer({
      transport,
      registry: new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() }),
      crypto: world.crypto,
      clock: systemClock,
      identity: await world.identity('orders'),
      directory: await world.directory(),
      metrics,
    });
    await producer.connect();
    const send = (n: number, from: number) =>
      producer.sendRaw({
        topic: TOPIC,
        contentType: 'application/x-hist-test',
        messages: Array.from({ length: n }, (_, i) => ({
          key: `m${from + i}`,
          payload: new Uint8Array(200).fill(i % 251),
        })),
      });
    try {
      const first = await send(40, 0);
      const second = await send(25, 40);
      let h = await sealSeries(registry);
      // The ledger: what the producer reported as sealed and acknowledged.
      expect(first.length + second.length).toBe(65);
      expect(h.series).toEqual(['[]']);
      expect(h.count).toEqual([65]);
      expect(h.sum[0]).toBeGreaterThan(0);
      // Cumulative buckets end at +Inf with every observation.
      expect(h.buckets.at(-1)).toBe(65);
      for (let i = 1; i < h.buckets.length; i++)
        expect(h.buckets[i]!).toBeGreaterThanOrEqual(h.buckets[i - 1]!);

      registry.resetMetrics();
      await send(7, 65);
      h = await sealSeries(registry);
      expect(h.series).toEqual(['[]']);
      expect(h.count).toEqual([7]);
      expect(h.buckets.at(-1)).toBe(7);
    } finally {
      await producer.close();
    }
  });
});
