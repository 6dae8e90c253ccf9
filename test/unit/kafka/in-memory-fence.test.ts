/**
 * The in-memory transport models the membership lease (src/kafka/membership-lease.ts): a member the
 * coordinator fenced (InMemoryCluster.fenceMember: its session expired while it was frozen) finds its
 * batch in hand stale, its heartbeats and commits refused with REBALANCE_IN_PROGRESS, and when it
 * rejoins it first holds nothing (an empty assignment) and then its new one — what the kafkajs adapter
 * does after a break in membership. Checked from the handlers' and listeners' ledgers and the
 * cluster's commit log.
 */
import { describe, expect, it } from 'vitest';
import type {
  BatchControl,
  TopicPartition,
  TransportConsumer,
} from '../../../src/kafka/transport.js';
import {
  createInMemoryTransport,
  InMemoryCluster,
  ManualScheduler,
  settle as settleCluster,
} from '../../../src/testing.js';

const GROUP = 'g';

async function settle(cluster: InMemoryCluster): Promise<void> {
  if (!(await settleCluster(cluster))) throw new Error('the in-memory cluster did not settle');
}

const show = (a: readonly TopicPartition[]) => a.map((p) => `${p.topic}:${p.partition}`);
const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'accepted',
    (err: { code?: string }) => err.code ?? 'no code',
  );

interface Member {
  readonly consumer: TransportConsumer;
  /** `<client> <offset>` per record handled. */
  readonly handled: string[];
  /** Each assignment its listeners saw. */
  readonly assignments: string[][];
}

/**
 * A member handling one record at a time while its batch is not stale, then committing what it
 * handled; `onRecord` runs after each record (inside the batch).
 */
async function member(
  cluster: InMemoryCluster,
  clientId: string,
  onRecord: (offset: string, control: BatchControl, consumer: TransportConsumer) => Promise<void>,
): Promise<Member> {
  const consumer = createInMemoryTransport({ cluster, clientId }).consumer({ groupId: GROUP });
  const m: Member = { consumer, handled: [], assignments: [] };
  consumer.onAssignment((a) => m.assignments.push(show(a)));
  await consumer.connect();
  await consumer.subscribe({ topics: ['t'], fromBeginning: true });
  await consumer.run({
    eachBatch: async (batch, control) => {
      let next: bigint | undefined;
      for (const r of batch.records) {
        if (control.isStale()) return;
        m.handled.push(`${clientId} ${r.offset}`);
        control.resolveOffset(r.offset);
        next = BigInt(r.offset) + 1n;
        await onRecord(r.offset, control, consumer);
      }
      if (next !== undefined && !control.isStale())
        await consumer.commitOffsets([
          { topic: 't', partition: batch.partition, offset: String(next), metadata: null },
        ]);
    },
  });
  return m;
}

describe('in-memory transport: a fenced member', () => {
  it('finds its batch in hand stale, is refused heartbeat and commit, and rejoins holding nothing first', async () => {
    const cluster = new InMemoryCluster({ scheduler: new ManualScheduler() });
    const t = createInMemoryTransport({ cluster, clientId: 'setup' });
    await t.admin().createTopics([{ topic: 't', numPartitions: 1 }]);
    const producer = t.producer();
    await producer.connect();

    let fence:
      { staleBefore: boolean; staleAfter: boolean; heartbeat: string; commit: string } | undefined;
    const a = await member(cluster, 'a', async (offset, control, consumer) => {
      if (fence !== undefined || offset !== '0') return;
      // Frozen right after handing out offset 0, past its session: the coordinator fences it.
      const staleBefore = control.isStale();
      const id = cluster.memberIds(GROUP).find((m) => m.startsWith('a-'));
      if (id === undefined || !cluster.fenceMember(GROUP, id)) throw new Error('not a member');
      fence = {
        staleBefore,
        staleAfter: control.isStale(),
        heartbeat: await codeOf(control.heartbeat()),
        commit: await codeOf(
          consumer.commitOffsets([{ topic: 't', partition: 0, offset: '1', metadata: null }]),
        ),
      };
    });
    const b = await member(cluster, 'b', () => Promise.resolve());
    await settle(cluster);
    // a-… sorts before b-…: the one partition is a's; b holds nothing.
    expect(a.assignments).toEqual([['t:0'], ['t:0']]);
    expect(b.assignments).toEqual([[]]);

    await producer.send({
      topic: 't',
      partition: 0,
      records: ['r0', 'r1', 'r2'].map((v) => ({ key: null, value: Buffer.from(v) })),
    });
    await settle(cluster);

    expect(fence).toEqual({
      staleBefore: false,
      staleAfter: true,
      heartbeat: 'REBALANCE_IN_PROGRESS',
      commit: 'REBALANCE_IN_PROGRESS',
    });
    // The fenced batch stopped at once: a handled nothing after offset 0 in it, b took the partition
    // from the committed offset (none: the beginning), and a came back holding nothing first.
    expect(b.handled).toEqual(['b 0', 'b 1', 'b 2']);
    expect(a.handled).toEqual(['a 0']);
    expect(b.assignments).toEqual([[], ['t:0'], []]);
    expect(a.assignments).toEqual([['t:0'], ['t:0'], [], ['t:0']]);
    // Nothing was committed in a generation the fenced member held; the group moved on to offset 3.
    const commits = cluster.commitLog(GROUP);
    expect(commits.length).toBeGreaterThan(0);
    expect(commits.every((c) => c.generation >= 3)).toBe(true);
    expect(cluster.committed(GROUP, 't', 0)?.offset).toBe('3');
    expect(cluster.memberIds(GROUP).sort()).toEqual([
      expect.stringMatching(/^a-/),
      expect.stringMatching(/^b-/),
    ]);
    await a.consumer.disconnect();
    await b.consumer.disconnect();
  });
});
