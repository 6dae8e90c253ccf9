/**
 * Producing sealed records over the broker's mTLS listener (client certificate signed by the stack
 * CA) with per-message signatures and block padding, consuming them over PLAINTEXT: every message
 * arrives once, opened and verified.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import { getEndpoints } from '../support/endpoints.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
} from '../support/test-transport.js';
import {
  startConsumer,
  startProducer,
  type TestConsumer,
  type TestProducer,
} from '../support/pipeline-parties.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';

const N = 500;
const e = getEndpoints();
const tls = createKafkajsTransport({
  brokers: e.kafkaSslBrokers,
  clientId: 'pipeline-mtls',
  ssl: {
    ca: [readFileSync(e.kafkaSsl.caFile, 'utf8')],
    cert: readFileSync(e.kafkaSsl.certFile, 'utf8'),
    key: readFileSync(e.kafkaSsl.keyFile, 'utf8'),
  },
  logger: testLogger,
  nowMs: () => Date.now(),
});
const plain = testTransport('pipeline-mtls-plain');
const topic = freshTopic('pipe-mtls');
const t = pipelineTopics('pipe-mtls');
let world: PipelineWorld;
let orders: TestProducer | undefined;
let billing: TestConsumer | undefined;

beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [topic], receive: [] },
    { name: 'billing', send: [], receive: [topic] },
  ]);
  await createTopics(plain, [
    { topic, numPartitions: 2 },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
  ]);
});

afterAll(async () => {
  await billing?.consumer.close();
  await orders?.producer.close();
  await world?.cleanup();
});

describe('sealed producer over mTLS', () => {
  it('produces over the mTLS listener; the consumer opens every message once', async () => {
    // With a signature inside every message and fixed-block padding, to cover those options end to end.
    orders = await startProducer(world, tls, 'orders', {
      valueSchemas: { [topic]: ORDER_SCHEMA },
      signEveryMessage: true,
      padding: { kind: 'block', blockBytes: 256 },
    });
    const sent = await orders.producer.send({
      topic,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `k${i % 5}`,
        value: { id: `m-${i}`, cents: i, note: 'tls' },
      })),
    });
    expect(sent).toHaveLength(N);
    billing = await startConsumer(world, plain, 'billing', {
      groupId: `billing-${topic}`,
      topics: [topic],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      keepDeliveries: true,
    });
    await waitFor(() => billing!.total() >= N, 'deliveries', 60_000);
    expect(billing.total()).toBe(N);
    for (const s of sent) expect(billing.delivered.get(s.messageId)).toBe(1);
    expect(billing.deliveries.every((d) => d.sender === 'orders')).toBe(true);
  });
});
