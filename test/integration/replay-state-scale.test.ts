/**
 * Replay state that scales (issue #17 item 5, docs/SPEC.md §6): a reassignment reads only the state
 * records its group's commits point to, however many other groups share the state topic. Measured
 * in records read (the store's `lastScan`), not wall-clock: 100 groups write their state to one
 * shared, compacted state topic on the real broker; a reassignment of one group's partitions reads
 * the same number of records with 1 other group as with 99.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import type { TransportProducer } from '../../src/kafka/transport.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import { silentLogger } from '../../src/pipeline/pipeline-logger.js';
import { ReplayStateStore, type StateNeed } from '../../src/pipeline/replay-state-store.js';
import { ReplayWindow } from '../../src/envelope/replay-window.js';
import { systemClock } from '../../src/runtime/clock.js';
import { createTopics, freshTopic, testTransport } from '../support/test-transport.js';

const transport = testTransport('replay-state-scale');
const stateTopic = freshTopic('state-scale');
const TOPIC = 'orders.v1';
const PARTITIONS = [0, 1, 2];
const GENERATIONS = 3;
let crypto: CryptoProvider;
let kms: LocalKms;
let producer: TransportProducer;
let dir: string;

beforeAll(async () => {
  crypto = await createCryptoProvider();
  dir = await mkdtemp(join(tmpdir(), 'sealpost-state-scale-'));
  kms = await LocalKms.open({
    path: join(dir, 'kek.json'),
    crypto,
    clock: systemClock,
    create: true,
  });
  await createTopics(transport, [{ topic: stateTopic, numPartitions: 4, compacted: true }]);
  producer = transport.producer();
  await producer.connect();
}, 60_000);

afterAll(async () => {
  await producer.disconnect();
  await kms.close();
  const admin = transport.admin();
  await admin.connect();
  await admin.deleteTopics([stateTopic]).catch(() => undefined);
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
});

function storeOf(group: string): ReplayStateStore {
  return new ReplayStateStore({
    transport,
    producer,
    stateTopic,
    group,
    identity: 'billing',
    kms,
    crypto,
    clock: systemClock,
    logger: silentLogger,
  });
}

/** A group's owner: its first start, then GENERATIONS commits per partition; returns its commits. */
async function runGroup(group: string): Promise<StateNeed[]> {
  const store = storeOf(group);
  try {
    await store.scan(
      PARTITIONS.map((partition) => ({
        topic: TOPIC,
        partition,
        committed: { offset: '-1', metadata: null },
      })),
    );
    const needs: StateNeed[] = [];
    for (const partition of PARTITIONS) {
      const windows = new Map([[`${group}/orders`, new ReplayWindow()]]);
      const state = {
        generation: 0,
        nextOffset: null,
        windows,
        entityVersions: new Map<string, number>(),
        handOutMark: null,
      };
      let committed = { offset: '-1', metadata: null as string | null };
      for (let g = 0; g < GENERATIONS; g++) {
        const next = BigInt(10 * (g + 1));
        const { generation, metadata } = await store.write(TOPIC, partition, state, next);
        state.generation = generation;
        committed = { offset: next.toString(), metadata };
      }
      needs.push({ topic: TOPIC, partition, committed });
    }
    return needs;
  } finally {
    store.close();
  }
}

/** A new member takes the group's partitions over: what did loading them read? */
async function reassign(group: string, needs: readonly StateNeed[]) {
  const store = storeOf(group);
  try {
    await store.scan(needs);
    const kinds = needs.map((n) => store.load(n.topic, n.partition, n.committed, 'pause').kind);
    return { stats: store.lastScan!, kinds };
  } finally {
    store.close();
  }
}

describe('replay state on a state topic shared by 100 groups (real Kafka)', () => {
  it('a reassignment reads the same records with 1 other group as with 99', async () => {
    const target = `scale-target-${stateTopic}`;
    const needs = await runGroup(target);
    await runGroup(`scale-other-0-${stateTopic}`);
    const few = await reassign(target, needs);
    expect(few.kinds).toEqual(['loaded', 'loaded', 'loaded']);
    // The three state records the commits point to, and the group's key record: nothing else.
    expect(few.stats).toEqual({ mode: 'targeted', recordsRead: PARTITIONS.length + 1 });

    for (let i = 1; i < 99; i++) await runGroup(`scale-other-${i}-${stateTopic}`);
    const many = await reassign(target, needs);
    expect(many.kinds).toEqual(['loaded', 'loaded', 'loaded']);
    expect(many.stats).toEqual(few.stats);

    // The read that scans (a store given no commits, as every reassignment did before): it reads
    // every record of the 100 groups — what the targeted read no longer pays.
    const scanning = storeOf(target);
    try {
      await scanning.scan();
      expect(scanning.lastScan!.mode).toBe('full');
      expect(scanning.lastScan!.recordsRead).toBeGreaterThanOrEqual(
        100 * (1 + PARTITIONS.length * Math.min(GENERATIONS, 2)),
      );
    } finally {
      scanning.close();
    }
  }, 600_000);

  it('a partition taken over that is sealed under the other of two group keys loads', async () => {
    // Two members of a new group start at the very same moment: both find no key and each creates
    // one (docs/API.md, "Replay state": both stay usable). Each then commits its own partition.
    const group = `two-keys-${stateTopic}`;
    const first = (partition: number): StateNeed[] => [
      { topic: TOPIC, partition, committed: { offset: '-1', metadata: null } },
    ];
    const a = storeOf(group);
    const b = storeOf(group);
    try {
      await Promise.all([a.scan(first(0)), b.scan(first(1))]);
      const state = () => ({
        generation: 0,
        nextOffset: null,
        windows: new Map<string, ReplayWindow>(),
        entityVersions: new Map<string, number>(),
        handOutMark: null,
      });
      const written = await b.write(TOPIC, 1, state(), 10n);
      const committed = { offset: '10', metadata: written.metadata };
      // b leaves; a takes partition 1 over: its state record is sealed under b's key.
      await a.scan([{ topic: TOPIC, partition: 1, committed }]);
      expect(a.load(TOPIC, 1, committed, 'pause').kind).toBe('loaded');
    } finally {
      a.close();
      b.close();
    }
  }, 120_000);
});
