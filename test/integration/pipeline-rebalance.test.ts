/**
 * Two members of one group and a rebalance in the middle of the stream: replay state hands over
 * through the state records (no alert, no dead letter), every message reaches the group, and a
 * message delivered twice (uncommitted work at the handover) carries the same idempotency key.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/test-transport.js';
import type { TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({ purpose: 'pipe-rebal', clientId: 'pipeline-rebalance', partitions: 4 });
const { topic } = sc;

const N = 4000;
const group = `billing-${topic}`;
const members: TestConsumer[] = [];

afterAll(async () => {
  for (const m of members) await m.consumer.close();
});

describe('rebalance between two members', () => {
  it('hands the replay state over and delivers everything', async () => {
    const orders = await sc.producer();
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
    const a = await sc.consumer('billing', options);
    members.push(a);
    await waitFor(() => a.total() >= 600, 'member A to start');
    const b = await sc.consumer('billing', options);
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
