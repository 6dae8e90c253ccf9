/**
 * Two members of one group and a rebalance in the middle of the stream: replay state hands over
 * through the state records (no alert, no dead letter), every message reaches the group, and a
 * message delivered twice (uncommitted work at the handover) carries the same idempotency key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';
import { startConsumer, startProducer, type TestConsumer } from '../support/pipeline-parties.js';
import {
  counterValue,
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';

const N = 4000;
const transport = testTransport('pipeline-rebalance');
const topic = freshTopic('pipe-rebal');
const t = pipelineTopics('pipe-rebal');
const group = `billing-${topic}`;
let world: PipelineWorld;
const members: TestConsumer[] = [];

beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [topic], receive: [] },
    { name: 'billing', send: [], receive: [topic] },
  ]);
  await createTopics(transport, [
    { topic, numPartitions: 4 },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
  ]);
});

afterAll(async () => {
  for (const m of members) await m.consumer.close();
  await world?.cleanup();
});

describe('rebalance between two members', () => {
  it('hands the replay state over and delivers everything', async () => {
    const orders = await startProducer(world, transport, 'orders', {
      valueSchemas: { [topic]: ORDER_SCHEMA },
    });
    const sent: string[] = [];
    try {
      for (let base = 0; base < N; base += 500) {
        const r = await orders.producer.send({
          topic,
          messages: Array.from({ length: 500 }, (_, i) => ({
            key: `k${base + i}`,
            value: { id: `b-${base + i}`, cents: i, note: '' },
          })),
        });
        sent.push(...r.map((x) => x.messageId));
      }
    } finally {
      await orders.producer.close();
    }
    const alerts: string[] = [];
    // Collected in the handler, asserted after the wait (a throw in a handler is a retried failure).
    const idKeys = new Map<string, Set<string>>();
    const slow = async (d: { messageId: string; idempotencyKey: string }) => {
      const seen = idKeys.get(d.messageId) ?? new Set<string>();
      seen.add(d.idempotencyKey);
      idKeys.set(d.messageId, seen);
      await new Promise((r) => setTimeout(r, 1));
    };
    const options = {
      groupId: group,
      topics: [topic],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      commitEveryRecords: 100,
      onAlert: (a: { code: string }) => alerts.push(a.code),
      onMessage: slow,
      consumerOptions: {
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1000,
        retryInitialDelayMs: 100,
        retryMaxDelayMs: 2000,
      },
    };
    const a = await startConsumer(world, transport, 'billing', options);
    members.push(a);
    await waitFor(() => a.total() >= 600, 'member A to start');
    const b = await startConsumer(world, transport, 'billing', options);
    members.push(b);
    const union = () => new Set([...a.delivered.keys(), ...b.delivered.keys()]);
    await waitFor(() => union().size >= N, 'every message delivered to the group', 180_000);
    expect(b.total()).toBeGreaterThan(0);
    for (const id of sent) expect(union().has(id)).toBe(true);
    // Every redelivery across the handover carried the same idempotency key.
    expect([...idKeys.values()].filter((keys) => keys.size !== 1)).toEqual([]);
    expect(alerts).toEqual([]);
    expect(await counterValue(a.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);
    expect(await counterValue(b.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);
    // At-least-once at the handover only: far fewer repeats than messages.
    expect(a.total() + b.total() - N).toBeLessThan(N / 4);
  });
});
