/**
 * What the in-memory transport adds to the contract: faults on demand (failed sends and commits, a
 * broker that is down, crashes, forced rebalances, a killed process) and virtual time for resumes.
 * Each test checks what was acknowledged, fetched or committed from the cluster's own log.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord, ConsumerCrash } from '../../../src/kafka/transport.js';
import { TransportError } from '../../../src/kafka/transport-error.js';
import {
  createInMemoryTransport,
  InMemoryCluster,
  ManualScheduler,
  settle as settleCluster,
  type InMemoryTransport,
} from '../../../src/testing.js';

const text = (v: string) => ({ key: null, value: Buffer.from(v) });

/** Lets the in-memory clients run until nothing moves. */
async function settle(cluster: InMemoryCluster): Promise<void> {
  if (!(await settleCluster(cluster))) throw new Error('the in-memory cluster did not settle');
}

async function world(topicPartitions = 1) {
  const scheduler = new ManualScheduler();
  const cluster = new InMemoryCluster({ scheduler });
  const transport = createInMemoryTransport({ cluster });
  const admin = transport.admin();
  await admin.createTopics([{ topic: 't', numPartitions: topicPartitions }]);
  const producer = transport.producer();
  await producer.connect();
  return { scheduler, cluster, transport, admin, producer };
}

async function member(transport: InMemoryTransport, got: ConsumedRecord[], groupId = 'g') {
  const consumer = transport.consumer({ groupId, retryInitialDelayMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: ['t'], fromBeginning: true });
  await consumer.run({
    eachBatch: async (batch, control) => {
      for (const r of batch.records) {
        got.push(r);
        control.resolveOffset(r.offset);
      }
      const last = batch.records.at(-1)!;
      await consumer.commitOffsets([
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: String(BigInt(last.offset) + 1n),
          metadata: 'm',
        },
      ]);
    },
  });
  return consumer;
}

describe('in-memory transport: faults on demand', () => {
  it('a failed send appends nothing; a lost acknowledgement appends and still fails', async () => {
    const { cluster, producer } = await world();
    cluster.failNextSend();
    await expect(
      producer.send({ topic: 't', partition: 0, records: [text('a')] }),
    ).rejects.toMatchObject({
      code: 'BROKER_BUSY',
      retriable: true,
    });
    expect(cluster.records('t', 0)).toEqual([]);
    cluster.failNextSend(undefined, { topic: 't', afterAppend: true });
    await expect(
      producer.send({ topic: 't', partition: 0, records: [text('b')] }),
    ).rejects.toBeInstanceOf(TransportError);
    expect(cluster.records('t', 0).map((r) => r.value!.toString())).toEqual(['b']);
    const ack = await producer.send({ topic: 't', partition: 0, records: [text('c')] });
    expect(ack.baseOffset).toBe('1');
  });

  it('a failed commit leaves the committed offset where it was; the next one lands', async () => {
    const { cluster, transport, producer } = await world();
    const consumer = transport.consumer({ groupId: 'g' });
    await consumer.connect();
    await consumer.subscribe({ topics: ['t'] });
    await consumer.run({ eachBatch: () => Promise.resolve() });
    await producer.send({ topic: 't', partition: 0, records: [text('a'), text('b')] });
    cluster.failNextCommit(undefined, { groupId: 'g' });
    await expect(
      consumer.commitOffsets([{ topic: 't', partition: 0, offset: '1', metadata: 'x' }]),
    ).rejects.toMatchObject({ code: 'BROKER_BUSY' });
    expect(cluster.commitLog('g')).toEqual([]);
    await consumer.commitOffsets([{ topic: 't', partition: 0, offset: '2', metadata: 'y' }]);
    expect(cluster.commitLog('g').map((c) => [c.offset, c.metadata])).toEqual([['2', 'y']]);
    await consumer.disconnect();
  });

  it('a broker that is down refuses every call as BROKER_UNAVAILABLE and delivers nothing until it is back', async () => {
    const { cluster, transport, producer, admin } = await world();
    const got: ConsumedRecord[] = [];
    await member(transport, got);
    await producer.send({ topic: 't', partition: 0, records: [text('a')] });
    await settle(cluster);
    expect(got.map((r) => r.value!.toString())).toEqual(['a']);
    cluster.setBrokerDown(true);
    await expect(
      producer.send({ topic: 't', partition: 0, records: [text('b')] }),
    ).rejects.toMatchObject({
      code: 'BROKER_UNAVAILABLE',
      retriable: true,
    });
    await expect(admin.listTopics()).rejects.toMatchObject({ code: 'BROKER_UNAVAILABLE' });
    cluster.setBrokerDown(false);
    await producer.send({ topic: 't', partition: 0, records: [text('c')] });
    await settle(cluster);
    expect(got.map((r) => r.value!.toString())).toEqual(['a', 'c']);
  });

  it('crashConsumer tells the listeners; a member that will not restart leaves the group', async () => {
    const { cluster, transport, producer } = await world(2);
    const gotA: ConsumedRecord[] = [];
    const gotB: ConsumedRecord[] = [];
    const a = await member(transport, gotA);
    const crashes: ConsumerCrash[] = [];
    a.onCrash((c) => crashes.push(c));
    await settle(cluster);
    cluster.crashConsumer('g');
    expect(crashes.map((c) => [(c.error as TransportError).code, c.willRestart])).toEqual([
      ['TRANSPORT_FAILED', false],
    ]);
    expect(() => a.pause([{ topic: 't', partition: 0 }])).toThrow(TransportError);
    await member(transport, gotB);
    await producer.sendBatch(
      [0, 1].map((partition) => ({ topic: 't', partition, records: [text(`v${partition}`)] })),
    );
    await settle(cluster);
    expect(gotA).toEqual([]);
    expect(gotB.map((r) => r.value!.toString()).sort()).toEqual(['v0', 'v1']);
  });

  it('a crash that will restart tells the listeners and the member carries on from the commit', async () => {
    const { cluster, transport, producer } = await world();
    const got: ConsumedRecord[] = [];
    const consumer = await member(transport, got);
    const crashes: ConsumerCrash[] = [];
    consumer.onCrash((c) => crashes.push(c));
    await producer.send({ topic: 't', partition: 0, records: [text('a')] });
    await settle(cluster);
    const generation = cluster.generation('g');
    cluster.crashConsumer('g', { willRestart: true });
    expect(crashes.map((c) => c.willRestart)).toEqual([true]);
    await producer.send({ topic: 't', partition: 0, records: [text('b')] });
    await settle(cluster);
    expect(got.map((r) => r.value!.toString())).toEqual(['a', 'b']);
    expect(cluster.generation('g')).toBe(generation + 2);
    expect(cluster.commitLog('g').map((c) => c.offset)).toEqual(['1', '2']);
  });

  it('a forced rebalance makes a stale commit fail and refetches from the committed offset', async () => {
    const { cluster, transport, producer } = await world();
    const consumer = transport.consumer({ groupId: 'g' });
    const fetched: string[] = [];
    let assignments = 0;
    consumer.onAssignment(() => assignments++);
    let stale: unknown;
    await consumer.connect();
    await consumer.subscribe({ topics: ['t'], fromBeginning: true });
    await consumer.run({
      eachBatch: async (batch, control) => {
        for (const r of batch.records) {
          fetched.push(r.value!.toString());
          control.resolveOffset(r.offset);
        }
        if (fetched.length === 2) {
          // The group moves on mid-batch: this member's commit carries a stale generation.
          cluster.rebalance('g');
          stale = await consumer
            .commitOffsets([{ topic: 't', partition: 0, offset: '2', metadata: null }])
            .catch((err: unknown) => err);
        }
      },
    });
    await producer.send({ topic: 't', partition: 0, records: [text('a'), text('b')] });
    await settle(cluster);
    expect(stale).toMatchObject({ code: 'REBALANCE_IN_PROGRESS', retriable: true });
    expect(assignments).toBe(2);
    // Nothing was committed: the new generation fetches both records again.
    expect(fetched).toEqual(['a', 'b', 'a', 'b']);
    expect(cluster.commitLog('g')).toEqual([]);
  });

  it('a killed transport stops its consumers without a word; its clients fail NOT_CONNECTED', async () => {
    const { cluster, producer } = await world();
    const dying = createInMemoryTransport({ cluster });
    const got: ConsumedRecord[] = [];
    const consumer = await member(dying, got);
    const crashes: ConsumerCrash[] = [];
    consumer.onCrash((c) => crashes.push(c));
    const theirs = dying.producer();
    await theirs.connect();
    dying.kill();
    await expect(
      theirs.send({ topic: 't', partition: 0, records: [text('x')] }),
    ).rejects.toMatchObject({
      code: 'NOT_CONNECTED',
    });
    await producer.send({ topic: 't', partition: 0, records: [text('a')] });
    const survivor: ConsumedRecord[] = [];
    await member(createInMemoryTransport({ cluster }), survivor);
    await settle(cluster);
    expect([got, crashes]).toEqual([[], []]);
    expect(survivor.map((r) => r.value!.toString())).toEqual(['a']);
  });

  it('a timed pause resumes when the manual scheduler reaches its time, not before', async () => {
    const { scheduler, cluster, transport, producer } = await world();
    const got: ConsumedRecord[] = [];
    const consumer = await member(transport, got);
    await settle(cluster);
    consumer.pause([{ topic: 't', partition: 0 }], { resumeAfterMs: 1000 });
    await producer.send({ topic: 't', partition: 0, records: [text('a')] });
    await settle(cluster);
    // Settled with the partition paused: the fetch loop is idle and has nothing else to do.
    expect(got).toEqual([]);
    scheduler.advance(999);
    expect(consumer.paused()).toHaveLength(1);
    scheduler.advance(1);
    expect(consumer.paused()).toEqual([]);
    await settle(cluster);
    expect(got.map((r) => r.value!.toString())).toEqual(['a']);
  });
});

describe('in-memory transport: ACL bindings', () => {
  it('keeps bindings as a list: creating one twice stores it once, deleting removes exactly it', async () => {
    const { admin } = await world();
    const read = {
      resourceType: 'TOPIC',
      resourceName: 'orders',
      patternType: 'LITERAL',
      principal: 'User:CN=billing',
      host: '*',
      operation: 'READ',
      permission: 'ALLOW',
    } as const;
    const write = { ...read, principal: 'User:CN=orders', operation: 'WRITE' } as const;
    await admin.createAcls([read, write]);
    await admin.createAcls([read]);
    expect(await admin.describeAcls()).toEqual([read, write]);
    await admin.deleteAcls([read]);
    expect(await admin.describeAcls()).toEqual([write]);
  });
});

describe('sealpost/testing', () => {
  it('is a package entry point (types and module, next to the main one) built from src/testing.ts', () => {
    const root = new URL('../../../', import.meta.url);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
      exports: Record<string, { types: string; import: string }>;
    };
    expect(pkg.exports['./testing']).toEqual({
      types: './dist/src/testing.d.ts',
      import: './dist/src/testing.js',
    });
    expect(existsSync(new URL('src/testing.ts', root))).toBe(true);
  });
});
