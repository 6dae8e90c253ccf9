/**
 * #21.7, monitoring that can fire, on the real broker:
 * - a worker whose broker path is cut (a TCP proxy in front of Kafka, only this worker's path) fails
 *   its health within the configured bound, and is healthy again once the path is back;
 * - `sealpost_dlq_lag_records` is high watermark minus committed, measured while the worker's batches
 *   fail (nothing committed), not "at the last successful batch";
 * - `sealpost_quarantine_entries{reason}` reads 0 after a purge instead of vanishing.
 * The health and metrics are the ones the worker entry points serve: the worker's health combined with
 * its BrokerProbe (workers/shared/run-worker.ts), on the same prom-client registry.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import type { QuarantineStore } from '../../src/dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../../src/dlq/sqlite-quarantine-store.js';
import type { Transport, TransportProducer } from '../../src/kafka/transport.js';
import { BrokerProbe } from '../../src/observability/broker-probe.js';
import { systemClock } from '../../src/runtime/clock.js';
import { combinedHealth } from '../../workers/shared/run-worker.js';
import { proxiedKafka } from '../support/proxied-kafka.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
} from '../support/test-transport.js';

let dir: string;
let crypto: CryptoProvider;
let transport: Transport;
let producer: TransportProducer;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-worker-monitoring-'));
  crypto = await createCryptoProvider();
  transport = testTransport('worker-monitoring');
  producer = transport.producer();
  await producer.connect();
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await producer.disconnect();
  await rm(dir, { recursive: true, force: true });
});

/** The DLQ worker as workers/dlq/main.ts composes it: worker + probe on one transport and registry. */
function dlqWorker(
  t: Transport,
  dlqTopic: string,
  store: QuarantineStore,
  unreachableAfterMs: number,
): { worker: DeadLetterWorker; probe: BrokerProbe; registry: Registry; health: () => boolean } {
  const registry = new Registry();
  const groupId = `dlq-${dlqTopic}`;
  const worker = new DeadLetterWorker({
    transport: t,
    store,
    crypto,
    clock: systemClock,
    signingKeysOf: () => [],
    deadLetterTopic: dlqTopic,
    groupId,
    sessionTimeoutMs: 6000,
    registry,
    logger: testLogger,
  });
  const probe = new BrokerProbe({
    admin: () => t.admin(),
    groupId,
    topics: [dlqTopic],
    clock: systemClock,
    unreachableAfterMs,
    intervalMs: 500,
    timeoutMs: 1000,
    registry,
    lagMetric: { name: 'sealpost_dlq_lag_records', help: 'lag' },
    logger: testLogger,
  });
  return { worker, probe, registry, health: () => combinedHealth(worker, probe).ok };
}

async function gauge(registry: Registry, name: string, labels = ''): Promise<number | undefined> {
  const text = await registry.metrics();
  const escaped = name.replace(/[{}]/g, '\\$&');
  const m = new RegExp(`^${escaped}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

async function junk(topic: string, n: number): Promise<void> {
  await producer.send({
    topic,
    partition: 0,
    records: Array.from({ length: n }, (_, i) => ({
      key: null,
      value: Buffer.from(`not a dead letter ${i}`),
    })),
  });
}

describe('worker monitoring (real Kafka)', () => {
  it('health fails within the bound when only this worker loses the broker, and recovers', async () => {
    const dlqTopic = freshTopic('mon-health');
    await createTopics(transport, [{ topic: dlqTopic, numPartitions: 1 }]);
    const { proxy, transport: proxied } = await proxiedKafka('mon-health');
    closers.push(() => proxy.stop());
    const store = new SqliteQuarantineStore(join(dir, 'health.db'));
    const unreachableAfterMs = 3000;
    const w = dlqWorker(proxied, dlqTopic, store, unreachableAfterMs);
    await w.worker.start();
    w.probe.start();
    closers.push(async () => {
      await w.probe.stop();
      await w.worker.stop();
    });
    await junk(dlqTopic, 3);
    await waitFor(
      async () => (await store.list({ limit: 10 })).length === 3,
      'the worker stores through the proxy',
    );
    await waitFor(() => w.probe.lag === 0 && w.health(), 'healthy, lag 0 measured');

    await proxy.stop();
    const cut = Date.now();
    // Bound: unreachableAfterMs + one probe interval + one probe timeout, with slack for a loaded machine.
    await waitFor(
      () => !w.health(),
      'health failing with the broker cut',
      unreachableAfterMs + 10_000,
    );
    expect(Date.now() - cut).toBeGreaterThanOrEqual(unreachableAfterMs - 600);
    expect(await gauge(w.registry, 'sealpost_broker_reachable')).toBe(0);

    await proxy.start();
    await waitFor(() => w.health(), 'healthy again once the broker path is back', 30_000);
    expect(await gauge(w.registry, 'sealpost_broker_reachable')).toBe(1);
  });

  it('lag is high watermark minus committed while the worker cannot store (nothing committed)', async () => {
    const dlqTopic = freshTopic('mon-lag');
    await createTopics(transport, [{ topic: dlqTopic, numPartitions: 1 }]);
    const real = new SqliteQuarantineStore(join(dir, 'lag.db'));
    let refusing = true;
    let refusedBatches = 0;
    // The worker's own store refusing writes (disk full): its batches fail and commit nothing.
    const store = new Proxy(real, {
      get(target, prop) {
        if (prop === 'add' && refusing)
          return () => {
            refusedBatches++;
            throw new Error('disk full');
          };
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as QuarantineStore;
    const w = dlqWorker(transport, dlqTopic, store, 30_000);
    await w.worker.start();
    w.probe.start();
    closers.push(async () => {
      await w.probe.stop();
      await w.worker.stop();
    });
    await junk(dlqTopic, 25);
    await waitFor(() => refusedBatches > 0, 'a refused batch');
    await waitFor(
      async () => (await gauge(w.registry, 'sealpost_dlq_lag_records')) === 25,
      'sealpost_dlq_lag_records = 25 (25 written, none committed)',
    );
    expect(await real.list({ limit: 100 })).toHaveLength(0);

    refusing = false;
    await waitFor(
      async () => (await real.list({ limit: 100 })).length === 25,
      'stored once the store recovers',
      60_000,
    );
    await waitFor(
      async () => (await gauge(w.registry, 'sealpost_dlq_lag_records')) === 0,
      'lag back to 0 once committed',
    );
  });

  it('sealpost_quarantine_entries{reason} reads 0 after a purge', async () => {
    const dlqTopic = freshTopic('mon-purge');
    await createTopics(transport, [{ topic: dlqTopic, numPartitions: 1 }]);
    const store = new SqliteQuarantineStore(join(dir, 'purge.db'));
    const w = dlqWorker(transport, dlqTopic, store, 30_000);
    await w.worker.start();
    closers.push(() => w.worker.stop());
    await junk(dlqTopic, 4);
    await waitFor(async () => (await store.list({ limit: 10 })).length === 4, 'four entries');
    const series = '{reason="unrecognised"}';
    expect(await gauge(w.registry, 'sealpost_quarantine_entries', series)).toBe(4);
    expect(await store.purge((await store.list({ limit: 10 })).map((e) => e.id))).toBe(4);
    expect(await gauge(w.registry, 'sealpost_quarantine_entries', series)).toBe(0);
  });
});
