/**
 * The sealed replay state record against tampering on the real stack: an offset rewound without the
 * state pointer holds the partition paused with an alert (default policy); the explicit `rebuild`
 * policy keeps the windows, so the rewound records are all DUPLICATE and none is delivered again
 * (an offset rewind never clears windows); a forged state record that the commit points to (right
 * hash, but not sealed with the group's state key) is refused (REPLAY_STATE_MISMATCH).
 */
import { describe, expect, it } from 'vitest';
import { hash256 } from '../../src/envelope/derive.js';
import { label } from '../../src/envelope/labels.js';
import type { TopicPartition } from '../../src/kafka/transport.js';
import { waitFor } from '../support/test-transport.js';
import type { TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({ purpose: 'pipe-rs', clientId: 'pipeline-replay-state' });
const { topic, t, transport } = sc;

const N = 300;
const group = `billing-${topic}`;

/** Commits an arbitrary offset and metadata for the group (an operator or attacker with group access). */
async function forceCommit(offset: string, metadata: string | null): Promise<void> {
  const c = transport.consumer({ groupId: group });
  let assigned: readonly TopicPartition[] = [];
  c.onAssignment((a) => (assigned = a));
  await c.connect();
  try {
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({ eachBatch: (_b, control) => Promise.resolve(control.pause()) });
    await waitFor(() => assigned.length > 0, 'assignment');
    await c.commitOffsets([{ topic, partition: 0, offset, metadata }]);
  } finally {
    await c.disconnect();
  }
}

async function run(policy: 'pause' | 'rebuild'): Promise<{ c: TestConsumer; alerts: string[] }> {
  const alerts: string[] = [];
  const c = await sc.consumer('billing', {
    groupId: group,
    replayStatePolicy: policy,
    onAlert: (a) => alerts.push(a.code),
  });
  return { c, alerts };
}

describe('replay state record', () => {
  it('refuses a rewind without state, keeps windows on rebuild, refuses a forged record', async () => {
    const orders = await sc.producer();
    try {
      await orders.producer.send({
        topic,
        messages: Array.from({ length: N }, (_, i) => ({
          key: 'k',
          value: { id: `s-${i}`, cents: i, note: '' },
        })),
      });
    } finally {
      await orders.producer.close();
    }
    const first = await run('pause');
    await waitFor(() => first.c.total() >= N, 'first pass');
    await first.c.consumer.close();
    expect(first.alerts).toEqual([]);

    // Rewind to 0 without a state pointer: held paused, alert, nothing delivered.
    await forceCommit('0', null);
    const paused = await run('pause');
    await waitFor(() => paused.alerts.length > 0, 'an alert');
    expect(paused.alerts).toEqual(['REPLAY_STATE_MISSING']);
    // A refused partition is held paused by construction (it is never resumed, and a batch that
    // reaches it is paused again without a hand-out): nothing was handed out before or since.
    expect(paused.c.consumer.refusedPartitions()).toEqual([{ topic, partition: 0 }]);
    expect(paused.c.total()).toBe(0);
    await paused.c.consumer.close();

    // The explicit rebuild policy keeps the authenticated windows: every rewound record is a duplicate.
    const rebuilt = await run('rebuild');
    await waitFor(
      async () => (await counterValue(rebuilt.c.promRegistry, 'sealpost_duplicates_total')) >= N,
      'duplicates',
    );
    expect(rebuilt.alerts).toEqual(['REPLAY_STATE_REBUILT']);
    expect(rebuilt.c.total()).toBe(0);
    expect(await counterValue(rebuilt.c.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);
    await rebuilt.c.consumer.close();

    // A forged state record in the slot the commit points to: refused, never trusted.
    const forged = Buffer.concat([
      Buffer.from([1]),
      sc.world.crypto.randomBytes(16 + 24 + 16 + 40),
    ]);
    const generation = 7;
    const raw = transport.producer();
    await raw.connect();
    await raw.send({
      topic: t.state,
      partition: 0,
      records: [
        {
          key: Buffer.from(`s/${encodeURIComponent(group)}/${topic}/0/${generation % 2}`),
          value: forged,
        },
      ],
    });
    await raw.disconnect();
    const hash = Buffer.from(
      hash256(sc.world.crypto, label('replay-state-record'), forged),
    ).toString('hex');
    await forceCommit(String(N), `sealpost-replay/v1 ${generation} ${hash}`);
    const refused = await run('pause');
    await waitFor(() => refused.alerts.length > 0, 'an alert');
    expect(refused.alerts).toEqual(['REPLAY_STATE_MISMATCH']);
    await refused.c.consumer.close();
  });
});
