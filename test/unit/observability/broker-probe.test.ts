/**
 * BrokerProbe's own logic on an in-memory admin (the Kafka behaviour is covered against the real
 * broker by test/integration/worker-monitoring.test.ts): lag = high watermark − committed, summed
 * over partitions, from the log start when nothing is committed; reachability bounded by the last
 * successful probe; a hanging probe counts as failed after its timeout.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type {
  CommittedOffset,
  PartitionOffsets,
  TransportAdmin,
} from '../../../src/kafka/transport.js';
import { BrokerProbe } from '../../../src/observability/broker-probe.js';

interface FakeBroker {
  up: boolean;
  hang: boolean;
  offsets: Record<string, PartitionOffsets[]>;
  committed: CommittedOffset[];
  connects: number;
}

function fakeAdmin(b: FakeBroker): TransportAdmin {
  const call = <T>(f: () => T): Promise<T> =>
    b.hang
      ? new Promise<T>(() => undefined)
      : b.up
        ? Promise.resolve(f())
        : Promise.reject(Object.assign(new Error('down'), { code: 'KAFKA_UNAVAILABLE' }));
  const unused = (): Promise<never> => Promise.reject(new Error('not used by the probe'));
  return {
    connect: () => call(() => void b.connects++),
    disconnect: () => Promise.resolve(),
    fetchCommittedOffsets: () => call(() => b.committed),
    fetchTopicOffsets: (topic) => call(() => b.offsets[topic] ?? []),
    createTopics: unused,
    deleteTopics: unused,
    deleteGroups: unused,
    listTopics: unused,
    describeTopics: unused,
    describeTopicConfig: unused,
    describeAcls: unused,
    createAcls: unused,
    deleteAcls: unused,
  };
}

function probeOn(b: FakeBroker, now: { ms: number }, registry = new Registry()): BrokerProbe {
  return new BrokerProbe({
    admin: () => fakeAdmin(b),
    groupId: 'g',
    topics: ['dlq', 'other'],
    clock: { nowMs: () => now.ms },
    unreachableAfterMs: 10_000,
    intervalMs: 60_000,
    timeoutMs: 50,
    registry,
    lagMetric: { name: 'test_lag_records', help: 'lag' },
  });
}

describe('BrokerProbe', () => {
  it('lag is high watermark minus committed, from the log start where nothing is committed', async () => {
    const b: FakeBroker = {
      up: true,
      hang: false,
      connects: 0,
      offsets: {
        dlq: [
          { partition: 0, low: '0', high: '10' },
          { partition: 1, low: '5', high: '9' },
        ],
        other: [{ partition: 0, low: '100', high: '130' }],
      },
      committed: [
        { topic: 'dlq', partition: 0, offset: '7', metadata: null },
        { topic: 'dlq', partition: 1, offset: '-1', metadata: null },
      ],
    };
    const registry = new Registry();
    const probe = probeOn(b, { ms: 0 }, registry);
    await probe.probeOnce();
    // 10−7 + 9−5 (nothing committed: from the log start) + 130−100 (no committed row)
    expect(probe.lag).toBe(3 + 4 + 30);
    expect(await registry.metrics()).toMatch(/^test_lag_records 37$/m);
    await probe.stop();
  });

  it('health fails once no probe succeeded for the bound, and recovers on the next success', async () => {
    const b: FakeBroker = { up: true, hang: false, connects: 0, offsets: {}, committed: [] };
    const now = { ms: 1_000 };
    const registry = new Registry();
    const probe = probeOn(b, now, registry);
    await probe.probeOnce();
    expect(probe.health().ok).toBe(true);
    b.up = false;
    now.ms += 10_000;
    await probe.probeOnce();
    expect(probe.health()).toMatchObject({
      ok: true,
      detail: { brokerError: 'KAFKA_UNAVAILABLE' },
    });
    now.ms += 1;
    expect(probe.health().ok).toBe(false);
    expect(await registry.metrics()).toMatch(/^sealpost_broker_reachable 0$/m);
    b.up = true;
    await probe.probeOnce();
    expect(probe.health().ok).toBe(true);
    expect(b.connects).toBe(2); // a fresh admin after the failure
    await probe.stop();
  });

  it('a probe that hangs fails after its timeout', async () => {
    const b: FakeBroker = { up: true, hang: true, connects: 0, offsets: {}, committed: [] };
    const probe = probeOn(b, { ms: 0 });
    await probe.probeOnce();
    expect(probe.health().detail).toMatchObject({ brokerError: 'PROBE_TIMEOUT', lag: null });
    expect(probe.lag).toBeNull();
    await probe.stop();
  });
});
