/**
 * The Schema Registry unavailable for a while: the consumer reaches the real registry through a small
 * TCP proxy that the test stops and starts (the shared registry keeps running for other tests). While
 * it is down the partition pauses and retries; afterwards everything is delivered, once, and nothing
 * is dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';
import {
  startConsumer,
  startProducer,
  type TestConsumer,
  type TestProducer,
} from '../support/pipeline-parties.js';
import {
  counterValue,
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';

const N = 2000;
const OUTAGE_MS = 30_000; // the issue: the registry stopped for 30 s
const transport = testTransport('pipeline-registry-outage');
const topic = freshTopic('pipe-reg');
const t = pipelineTopics('pipe-reg');
let world: PipelineWorld;
let orders: TestProducer;
let consumer: TestConsumer | undefined;

const registryUrl = new URL(getEndpoints().schemaRegistryUrl);
const proxy = new TcpProxy(registryUrl.hostname, Number(registryUrl.port));

beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [topic], receive: [] },
    { name: 'billing', send: [], receive: [topic] },
  ]);
  await createTopics(transport, [
    { topic, numPartitions: 2 },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
  ]);
  orders = await startProducer(world, transport, 'orders', {
    valueSchemas: { [topic]: ORDER_SCHEMA },
  });
  await proxy.start();
});

afterAll(async () => {
  await consumer?.consumer.close();
  await orders?.producer.close();
  await proxy.stop();
  await world?.cleanup();
});

describe('registry outage', () => {
  it('pauses and resumes with nothing lost and nothing dead-lettered', async () => {
    const sent = await orders.producer.send({
      topic,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `k${i % 11}`,
        value: { id: `r-${i}`, cents: i, note: 'n' },
      })),
    });
    await proxy.stop();
    const proxied = `${registryUrl.protocol}//127.0.0.1:${proxy.port}${registryUrl.pathname}`;
    consumer = await startConsumer(world, transport, 'billing', {
      groupId: `billing-${topic}`,
      topics: [topic],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      registry: world.registry(proxied),
      // The registry is down: the pinned envelope schema id comes from configuration.
      envelopeSchemaId: orders.producer.envelopeSchemaId,
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
