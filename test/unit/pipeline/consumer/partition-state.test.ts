/**
 * The consumer's partition state (src/pipeline/consumer/partition-state.ts) alone, on the in-memory
 * transport with a real replay state store (local KMS, real crypto): what an assignment loads and
 * resumes, what a write commits and the next owner reads back, the hand-out mark written before a
 * hand-out (and restored when it cannot be), release on revoke, a refused state held for an
 * operator, and the lowered mark of a clean close. Every check reads the cluster's commit log or the
 * state a second member loads, not the instance's own word.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type {
  ConsumedRecord,
  TopicPartition,
  Transport,
  TransportAdmin,
  TransportConsumer,
} from '../../../../src/kafka/transport.js';
import {
  newPartitionEntry,
  PartitionStates,
  type PartitionConsumer,
  type PartitionEntry,
  type PartitionStateStore,
} from '../../../../src/pipeline/consumer/partition-state.js';
import { silentLogger } from '../../../../src/pipeline/pipeline-logger.js';
import { ReplayStateStore } from '../../../../src/pipeline/replay-state-store.js';
import { ReplayWindow } from '../../../../src/envelope/replay-window.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../../src/testing.js';
import { makePipelineWorld, type PipelineWorld } from '../../../support/pipeline-world.js';

const DATA = 'ps-data';
const STATE = 'ps-state';
const GROUP = 'ps-group';
const MAX_LEAD = 1000;

let world: PipelineWorld;
beforeAll(async () => {
  world = await makePipelineWorld([{ name: 'billing', send: [], receive: [DATA] }]);
});
afterAll(async () => {
  await world?.cleanup();
});

/** Waits for a condition the code under test guarantees to reach (bounded, never a fixed sleep). */
async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = systemClock.nowMs() + timeoutMs;
  while (!cond()) {
    if (systemClock.nowMs() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** One group member: a transport consumer whose assignments drive a PartitionStates. */
interface Member {
  readonly states: PartitionStates;
  readonly consumer: TransportConsumer;
  readonly store: ReplayStateStore;
  readonly released: TopicPartition[];
  readonly alerts: { topic: string; partition: number; code: string }[];
  /** Offsets fetched per partition (the consumer resolves nothing: fetching shows what is resumed). */
  readonly fetched: Map<number, string[]>;
  /** Assignments the consumer received. */
  assignments: number;
  closing: boolean;
  stop(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function makeCluster(): Promise<{ cluster: InMemoryCluster; transport: Transport }> {
  const cluster = new InMemoryCluster();
  const transport = createInMemoryTransport({ cluster, clientId: 'setup' });
  const admin = transport.admin();
  await admin.connect();
  await admin.createTopics([
    { topic: DATA, numPartitions: 2 },
    { topic: STATE, compacted: true },
  ]);
  await admin.disconnect();
  return { cluster, transport };
}

async function startMember(
  cluster: InMemoryCluster,
  clientId: string,
  options: { replayStatePolicy?: 'pause' | 'rebuild' } = {},
): Promise<Member> {
  const transport = createInMemoryTransport({ cluster, clientId });
  const producer = transport.producer();
  await producer.connect();
  const store = new ReplayStateStore({
    transport,
    producer,
    stateTopic: STATE,
    group: GROUP,
    identity: 'billing',
    kms: world.kms,
    crypto: world.crypto,
    clock: systemClock,
    logger: silentLogger,
  });
  const consumer = transport.consumer({ groupId: GROUP });
  const released: TopicPartition[] = [];
  const alerts: Member['alerts'] = [];
  const fetched = new Map<number, string[]>();
  let running = true;
  const member: Member = {
    states: undefined as unknown as PartitionStates,
    consumer,
    store,
    released,
    alerts,
    fetched,
    assignments: 0,
    closing: false,
    stop: async () => {
      if (!running) return;
      running = false;
      await consumer.disconnect();
      await producer.disconnect();
      store.close();
    },
  };
  const states = new PartitionStates({
    store,
    consumer: () => consumer,
    admin: () => transport.admin(),
    groupId: GROUP,
    clock: systemClock,
    logger: silentLogger,
    onAlert: (a) => alerts.push({ ...a }),
    replayStatePolicy: options.replayStatePolicy ?? 'pause',
    maxMarkLead: MAX_LEAD,
    horizonMs: 8 * 86_400_000,
    windowIdleShrinkMs: 3_600_000,
    maxRetryDelayMs: 200,
    admit: () => true,
    released: (topic, partition) => released.push({ topic, partition }),
    running: () => running,
    closing: () => member.closing,
  });
  (member as { states: PartitionStates }).states = states;
  consumer.onAssignment((a) => states.assign(a));
  consumer.onAssignment(() => member.assignments++);
  await consumer.connect();
  await consumer.subscribe({ topics: [DATA], fromBeginning: true });
  await consumer.run({
    eachBatch: (batch, control) => {
      const seen = fetched.get(batch.partition) ?? [];
      seen.push(...batch.records.map((r) => r.offset));
      fetched.set(batch.partition, seen);
      // Nothing is resolved: hold the partition so the test decides what was processed.
      control.pause({ resumeAfterMs: 60_000 });
      return Promise.resolve();
    },
  });
  cleanups.push(() => member.stop());
  return member;
}

function held(m: Member): number[] {
  return [...m.states.entries()].map((e) => e.partition).sort();
}

function entryOf(m: Member, partition: number): PartitionEntry {
  const e = m.states.get(DATA, partition);
  if (e === undefined) throw new Error(`partition ${partition} is not held`);
  return e;
}

function lastCommit(cluster: InMemoryCluster, partition: number) {
  return cluster
    .commitLog(GROUP)
    .filter((c) => c.topic === DATA && c.partition === partition)
    .at(-1);
}

async function produce(transport: Transport, partition: number, n: number): Promise<void> {
  const p = transport.producer();
  await p.connect();
  await p.send({
    topic: DATA,
    partition,
    records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`r${i}`) })),
  });
  await p.disconnect();
}

/** A plain member of the group commits `offset` without a replay state pointer, then leaves. */
async function commitWithoutState(
  cluster: InMemoryCluster,
  partition: number,
  offset: string,
): Promise<void> {
  const plain = createInMemoryTransport({ cluster, clientId: 'plain' }).consumer({
    groupId: GROUP,
  });
  let assigned = false;
  plain.onAssignment((a) => {
    assigned = a.length > 0;
  });
  await plain.connect();
  await plain.subscribe({ topics: [DATA], fromBeginning: true });
  await plain.run({ eachBatch: () => Promise.resolve() });
  await until('plain assigned', () => assigned);
  await plain.commitOffsets([{ topic: DATA, partition, offset, metadata: null }]);
  await plain.disconnect();
}

describe('PartitionStates', () => {
  it('loads an assignment before it is fetched, then resumes it (fresh state, nothing committed)', async () => {
    const { cluster, transport } = await makeCluster();
    await produce(transport, 0, 2);
    const m = await startMember(cluster, 'm1');
    await until('both partitions ready', () =>
      [0, 1].every((p) => m.states.get(DATA, p)?.status === 'ready'),
    );
    expect(held(m)).toEqual([0, 1]);
    expect(entryOf(m, 0).state.nextOffset).toBeNull();
    expect(entryOf(m, 0).redeliverBelow).toBeNull();
    expect(m.states.refused()).toEqual([]);
    // Resumed by the load: the partition is fetched from its start.
    await until('partition 0 fetched', () => (m.fetched.get(0)?.length ?? 0) > 0);
    expect(m.fetched.get(0)?.[0]).toBe('0');
    expect(cluster.commitLog(GROUP)).toEqual([]);
  });

  it('writes the hand-out mark before a hand-out; the next owner loads it, capped by the high watermark', async () => {
    const { cluster, transport } = await makeCluster();
    await produce(transport, 0, 5);
    const m1 = await startMember(cluster, 'm1');
    await until('ready', () => m1.states.get(DATA, 0)?.status === 'ready');
    const e = entryOf(m1, 0);
    await m1.states.beforeHandOut(e, 0n);
    // Persisted (state record + commit) before returning: the commit points to a state record.
    const c0 = lastCommit(cluster, 0);
    expect(c0?.offset).toBe('0');
    expect(c0?.metadata).toMatch(/^sealpost-replay\/v2 1 [0-9a-f]{64} \d+:\d+ \d+:\d+$/);
    // The first mark: the initial lead (2 × 64, under MAX_LEAD) past the record.
    expect(e.persistedMark).toBe(128n);
    expect(e.state.handOutMark).toBe(e.persistedMark);
    expect(e.lastHandedOut).toBe(0n);
    // The handler returned for offset 0: its seq is marked, the offset processed and written.
    const now = systemClock.nowMs();
    const w = new ReplayWindow(now);
    w.mark(7, now);
    e.state.windows.set('stream-a', w);
    m1.states.processed(e, 0n);
    await m1.states.persist(e);
    expect(lastCommit(cluster, 0)?.offset).toBe('1');
    expect(e.dirty).toBe(false);
    // m1 dies without a clean close; m2 takes the partitions over and loads what m1 wrote.
    await m1.stop();
    const m2 = await startMember(cluster, 'm2');
    await until('m2 ready', () => m2.states.get(DATA, 0)?.status === 'ready');
    const e2 = entryOf(m2, 0);
    expect(e2.state.nextOffset).toBe(1n);
    expect(e2.state.windows.get('stream-a')?.check(7)).toBe('duplicate');
    // The mark (lead past 0) lies beyond the 5 records written: only those may have been handed out.
    expect(e2.redeliverBelow).toBe(5n);
    expect(m2.states.belowLoadedMark(e2, 4n)).toBe(true);
    expect(m2.states.belowLoadedMark(e2, 5n)).toBe(false);
    await until('m2 fetched partition 0', () => (m2.fetched.get(0)?.length ?? 0) > 0);
    expect(m2.fetched.get(0)?.[0]).toBe('1');
  });

  it('does not move the mark when its write fails: the record must not be handed out', async () => {
    const { cluster } = await makeCluster();
    const m = await startMember(cluster, 'm1');
    await until('ready', () => m.states.get(DATA, 0)?.status === 'ready');
    const e = entryOf(m, 0);
    cluster.failNextCommit(undefined, { groupId: GROUP });
    await expect(m.states.beforeHandOut(e, 0n)).rejects.toThrow();
    expect(e.state.handOutMark).toBeNull();
    expect(e.persistedMark).toBeNull();
    expect(e.lastHandedOut).toBeNull();
    expect(e.handedOut).toBe(0);
    expect(lastCommit(cluster, 0)).toBeUndefined();
    // The next attempt writes it.
    await m.states.beforeHandOut(e, 0n);
    expect(e.persistedMark).not.toBeNull();
    expect(lastCommit(cluster, 0)?.metadata).toMatch(/^sealpost-replay\/v2 /);
  });

  it('keeps handing out below the persisted mark without a write, and moves it on in the background at half the lead', async () => {
    const { cluster } = await makeCluster();
    const m = await startMember(cluster, 'm1');
    await until('ready', () => m.states.get(DATA, 0)?.status === 'ready');
    const e = entryOf(m, 0);
    await m.states.beforeHandOut(e, 0n);
    const firstMark = e.persistedMark!;
    const lead = BigInt(e.lead);
    const commits = cluster.commitLog(GROUP).length;
    // Below half the lead left: no write at all.
    await m.states.beforeHandOut(e, 1n);
    expect(cluster.commitLog(GROUP).length).toBe(commits);
    // Half the lead left: a background write carries the mark past the last hand-out.
    const at = firstMark - lead / 2n;
    m.states.processed(e, at - 1n);
    await m.states.beforeHandOut(e, at);
    await until('background write', () => e.persistedMark! > firstMark);
    expect(e.persistedMark! >= at + 1n).toBe(true);
    expect(BigInt(lastCommit(cluster, 0)!.offset)).toBe(at);
  });

  it('releases a revoked partition and keeps the one still assigned', async () => {
    const { cluster } = await makeCluster();
    const m1 = await startMember(cluster, 'm1');
    await until('m1 holds both', () => held(m1).length === 2);
    const m2 = await startMember(cluster, 'm2');
    await until(
      'split between the two members',
      () => held(m1).length === 1 && held(m2).length === 1,
    );
    const lost = [0, 1].find((p) => !held(m1).includes(p))!;
    expect(held(m2)).toEqual([lost]);
    expect(m1.released).toEqual([{ topic: DATA, partition: lost }]);
    await until('m2 ready', () => m2.states.get(DATA, lost)?.status === 'ready');
  });

  it('keeps its in-memory state over a rebalance when the commit is still its own', async () => {
    const { cluster } = await makeCluster();
    const m = await startMember(cluster, 'm1');
    await until('ready', () => m.states.get(DATA, 0)?.status === 'ready');
    const e = entryOf(m, 0);
    await m.states.beforeHandOut(e, 0n);
    m.states.processed(e, 0n);
    await m.states.persist(e);
    const state = e.state;
    const before = m.assignments;
    cluster.rebalance(GROUP);
    await until('assigned again', () => m.assignments > before);
    await until('ready again', () => e.status === 'ready');
    expect(m.states.get(DATA, 0)).toBe(e);
    expect(e.state).toBe(state);
    expect(m.released).toEqual([]);
  });

  it('holds a partition whose commit has no replay state (policy pause): refused, alerted, not fetched', async () => {
    const { cluster, transport } = await makeCluster();
    await produce(transport, 0, 3);
    await commitWithoutState(cluster, 0, '2');

    const m = await startMember(cluster, 'm1');
    await until('partition 1 ready', () => m.states.get(DATA, 1)?.status === 'ready');
    await until('partition 0 refused', () => m.states.get(DATA, 0)?.status === 'refused');
    expect(m.states.refused()).toEqual([{ topic: DATA, partition: 0 }]);
    expect(m.alerts).toHaveLength(1);
    expect(m.alerts[0]).toMatchObject({ topic: DATA, partition: 0 });
    expect(m.alerts[0]!.code).toMatch(/^REPLAY_STATE_/);
    expect(m.consumer.paused()).toContainEqual({ topic: DATA, partition: 0 });
    expect(m.fetched.get(0)).toBeUndefined();
  });

  it('rebuilds under policy rebuild instead, alerting REPLAY_STATE_REBUILT', async () => {
    const { cluster, transport } = await makeCluster();
    await produce(transport, 0, 3);
    await commitWithoutState(cluster, 0, '2');

    const m = await startMember(cluster, 'm1', { replayStatePolicy: 'rebuild' });
    await until('partition 0 ready', () => m.states.get(DATA, 0)?.status === 'ready');
    expect(m.alerts).toEqual([{ topic: DATA, partition: 0, code: 'REPLAY_STATE_REBUILT' }]);
    expect(entryOf(m, 0).state.nextOffset).toBeNull();
    expect(entryOf(m, 0).redeliverBelow).toBeNull();
  });

  it('lowers the mark on a clean close to what was really handed out, and writes it', async () => {
    const { cluster, transport } = await makeCluster();
    await produce(transport, 0, 10);
    const m1 = await startMember(cluster, 'm1');
    await until('ready', () => m1.states.get(DATA, 0)?.status === 'ready');
    const e = entryOf(m1, 0);
    for (const o of [0n, 1n, 2n]) {
      await m1.states.beforeHandOut(e, o);
      m1.states.processed(e, o);
    }
    // Offset 3 handed out, its handler threw: not processed, still flagged after the close.
    await m1.states.beforeHandOut(e, 3n);
    expect(e.state.handOutMark! > 4n).toBe(true);
    m1.closing = true;
    await m1.states.closeWrites();
    expect(e.state.handOutMark).toBe(4n);
    expect(e.persistedMark).toBe(4n);
    expect(lastCommit(cluster, 0)?.offset).toBe('3');
    await m1.stop();
    const m2 = await startMember(cluster, 'm2');
    await until('m2 ready', () => m2.states.get(DATA, 0)?.status === 'ready');
    const e2 = entryOf(m2, 0);
    expect(e2.state.nextOffset).toBe(3n);
    expect(m2.states.belowLoadedMark(e2, 3n)).toBe(true);
    expect(m2.states.belowLoadedMark(e2, 4n)).toBe(false);
  });

  it('dates a record by the first fetch that covered it (what a later directory read must start after)', () => {
    let now = 1_000_000;
    const unused = new Proxy(
      {},
      {
        get() {
          throw new Error('the fetch proof uses no transport or store');
        },
      },
    );
    const states = new PartitionStates({
      store: unused as PartitionStateStore,
      consumer: () => unused as PartitionConsumer,
      admin: () => unused as TransportAdmin,
      groupId: GROUP,
      clock: { nowMs: () => now },
      logger: silentLogger,
      replayStatePolicy: 'pause',
      maxMarkLead: MAX_LEAD,
      horizonMs: 8 * 86_400_000,
      windowIdleShrinkMs: 3_600_000,
      maxRetryDelayMs: 200,
      admit: () => true,
      released: () => undefined,
      running: () => true,
      closing: () => false,
    });
    const e = newPartitionEntry(
      { topic: DATA, partition: 0 },
      { maxMarkLead: MAX_LEAD, admit: () => true },
    );
    const rec = (offset: string) => ({ offset }) as ConsumedRecord;
    states.fetched(e, '5');
    now = 2_000_000;
    // Offsets 0–4 were in the partition at the first fetch; a refetch does not make them younger.
    states.fetched(e, '8');
    expect(states.writtenBeforeMs(rec('3'), e)).toBe(1_000_000);
    expect(states.writtenBeforeMs(rec('6'), e)).toBe(2_000_000);
    // Once processing passed the mark, the next fetch sets a new one.
    states.processed(e, 6n);
    now = 3_000_000;
    states.fetched(e, '9');
    expect(states.writtenBeforeMs(rec('7'), e)).toBe(3_000_000);
    expect(states.writtenBeforeMs(rec('3'), e)).toBe(3_000_000);
  });
});
