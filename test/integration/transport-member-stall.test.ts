/**
 * A group member whose process stalls past its session timeout (here the event loop blocked in the
 * handler, as a SIGSTOP, a VM pause or a long GC would; docs/OPERATIONS.md "Under faults",
 * group-members) must hand out nothing more of the batch in hand once it runs again: the coordinator
 * has removed it and may have given its partitions to another member. Invariant, from the hand-outs
 * recorded with the assignment they came under: after the stall, the next record is handed out only
 * under a new assignment, and listeners first learn that the old one is gone (an empty assignment).
 * Against the real broker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TransportConsumer, TransportProducer } from '../../src/kafka/transport.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';

const SESSION_MS = 6_000;
const transport = testTransport('sealpost-test-member-stall');
const open: { disconnect(): Promise<void> }[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) await c.disconnect().catch(() => undefined);
});

/** Blocks the whole process (timers, sockets, everything) for `ms`. */
function freeze(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('kafkajs transport: a member stalled past its session', () => {
  it('hands out nothing more of its batch after the stall until it has joined again', async () => {
    const topic = freshTopic('member-stall');
    await createTopics(transport, [{ topic, numPartitions: 1, replicationFactor: 1 }]);
    const producer: TransportProducer = transport.producer();
    open.push(producer);
    await producer.connect();
    await producer.send({
      topic,
      partition: 0,
      records: Array.from({ length: 20 }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) })),
    });

    const consumer: TransportConsumer = transport.consumer({
      groupId: `test-member-stall-${topic}`,
      sessionTimeoutMs: SESSION_MS,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: 10_000,
    });
    open.push(consumer);
    const assignments: number[][] = [];
    consumer.onAssignment((a) => assignments.push(a.map((x) => x.partition)));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    /** Each hand-out with the number of assignments seen when it happened. */
    const handedOut: { offset: string; assignmentsSeen: number }[] = [];
    let stalledAt: number | undefined;
    await consumer.run({
      eachBatch: async (batch, control) => {
        for (const r of batch.records) {
          if (!control.isRunning() || control.isStale()) break;
          handedOut.push({ offset: r.offset, assignmentsSeen: assignments.length });
          control.resolveOffset(r.offset);
          if (r.offset === '3' && stalledAt === undefined) {
            // A heartbeat just before the stall (it may still be in flight when the stall begins).
            void control.heartbeat().catch(() => undefined);
            await new Promise((resolve) => setImmediate(resolve));
            stalledAt = handedOut.length;
            freeze(SESSION_MS + 4_000);
          }
        }
      },
    });
    await waitFor(
      () => handedOut.some((h) => h.offset === '19'),
      'every record handed out',
      90_000,
    );
    const after = handedOut.slice(stalledAt);
    expect(after.length).toBeGreaterThan(0);
    const assignmentsAtStall = handedOut[stalledAt! - 1]!.assignmentsSeen;
    // Nothing after the stall under the assignment the member held when it stalled.
    expect(after.filter((h) => h.assignmentsSeen === assignmentsAtStall)).toEqual([]);
    // It was removed (session expired): listeners were told it held nothing, then the new assignment.
    expect(assignments.slice(assignmentsAtStall)).toEqual([[], [0]]);
    // The new member starts over from the committed offset (none: the test commits nothing).
    expect(after.map((h) => h.offset)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  }, 120_000);
});
