/**
 * The Schema Registry unavailable for a while: the consumer reaches the real registry through a small
 * TCP proxy that the test stops and starts (the shared registry keeps running for other tests). While
 * it is down the partition pauses and retries; afterwards everything is delivered, once, and nothing
 * is dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/test-transport.js';
import { type TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-reg',
  clientId: 'pipeline-registry-outage',
  partitions: 2,
  producer: true,
});
const { topic, t, transport } = sc;

const N = 2000;
const OUTAGE_MS = 30_000; // the issue: the registry stopped for 30 s
let consumer: TestConsumer | undefined;

const registryUrl = new URL(getEndpoints().schemaRegistryUrl);
const proxy = new TcpProxy(registryUrl.hostname, Number(registryUrl.port));

beforeAll(async () => {
  await proxy.start();
});

afterAll(async () => {
  await proxy.stop();
});

describe('registry outage', () => {
  it('pauses and resumes with nothing lost and nothing dead-lettered', async () => {
    const sent = await sc.orders.producer.send({
      topic,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `k${i % 11}`,
        value: { id: `r-${i}`, cents: i, note: 'n' },
      })),
    });
    await proxy.stop();
    const proxied = `${registryUrl.protocol}//127.0.0.1:${proxy.port}${registryUrl.pathname}`;
    consumer = await sc.consumer('billing', {
      registry: sc.world.registry(proxied),
      // The registry is down: the pinned envelope schema id comes from configuration.
      envelopeSchemaId: sc.orders.producer.envelopeSchemaId,
      maxRetryDelayMs: 2000,
    });
    const outageStart = Date.now();
    await waitFor(
      async () =>
        (await counterValue(consumer!.promRegistry, 'sealpost_transient_retries_total', {
          reason: 'registry-unavailable',
        })) >= 3,
      'retries while the registry is down',
      60_000,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - outageStart))));
    expect(consumer.total()).toBe(0);
    expect(await counterValue(consumer.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);

    await proxy.start();
    await waitFor(() => consumer!.total() >= N, 'deliveries after the registry came back', 60_000);
    expect(consumer.total()).toBe(N);
    for (const s of sent) expect(consumer.delivered.get(s.messageId)).toBe(1);
    expect(await counterValue(consumer.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);
    const admin = transport.admin();
    await admin.connect();
    try {
      expect((await admin.fetchTopicOffsets(t.dlq)).every((p) => p.high === '0')).toBe(true);
    } finally {
      await admin.disconnect();
    }
  });
});
