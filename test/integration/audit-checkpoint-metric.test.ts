/**
 * #21.7: `sealpost_audit_last_checkpoint_timestamp_seconds` only advances on a checkpoint the broker
 * acknowledged. The audit worker's broker path goes through a TCP proxy (only its path is cut);
 * a checkpoint signed while the path is cut is stored (the stored-checkpoint gauge advances) but not
 * published, so the published gauge stays at the previous one — the documented alert can fire — and
 * catches up once the checkpoint is published after the path is back.
 */
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AuditWorker } from '../../src/audit/audit-worker.js';
import { readPublishedCheckpoints } from '../../src/audit/checkpoint-topic.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { proxiedKafka } from '../support/proxied-kafka.js';
import { waitFor } from '../support/test-transport.js';
import { metadataToAudit, useScenario } from '../support/scenario.js';
import { scenarioAuditWorkerOptions } from '../support/scenario-audit-worker.js';

const sc = useScenario({
  purpose: 'audit-cp-metric',
  clientId: 'audit-checkpoint-metric',
  topics: 0,
  metadataTopic: true,
  checkpointTopic: 'retained',
  services: metadataToAudit,
});
const { t, transport, checkpoints: checkpointTopic } = sc;

async function gauge(registry: Registry, name: string): Promise<number> {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await registry.metrics());
  if (m === null) throw new Error(`${name} not exposed`);
  return Number(m[1]);
}

describe('audit checkpoint gauge (real Kafka, proxied path)', () => {
  it('advances only when a checkpoint is published', async () => {
    const emitter = await sc.emitter('orders', { flushIntervalMs: 50 });
    let next = 0;
    const emit = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++, next++)
        emitter.emit({
          type: 'sealed',
          topic: 'orders',
          messageId: next.toString(16).padStart(32, '0'),
          partition: 0,
          sizeBytes: 10,
        });
      await emitter.flush();
    };

    const { proxy, transport: proxied } = await proxiedKafka('audit-checkpoint-metric');
    sc.defer(() => proxy.stop());
    const store = new SqliteAuditStore(join(sc.world.dir, 'audit.db'), sc.world.crypto);
    const registry = new Registry();
    const worker = new AuditWorker({
      ...(await scenarioAuditWorkerOptions(sc, store, `audit-${t.metadata}`)),
      transport: proxied,
      sessionTimeoutMs: 6000,
      // Checkpoints only when the test asks (checkpointNow), so the one signed during the cut is known.
      checkpointEveryEntries: 1_000_000,
      checkpointEveryMs: 3_600_000,
      promRegistry: registry,
    });
    await worker.start();
    sc.defer(() => worker.stop());

    await emit(5);
    await waitFor(async () => (await store.head()).count === 5, 'five events logged');
    const [first] = await worker.checkpointNow();
    expect(await gauge(registry, 'sealpost_audit_last_checkpoint_timestamp_seconds')).toBe(
      first!.timeMs / 1000,
    );

    await emit(3);
    await waitFor(async () => (await store.head()).count === 8, 'eight events logged');
    await proxy.stop();
    // Signed and stored, but the publish fails: the broker is unreachable for this worker.
    await expect(worker.checkpointNow()).rejects.toBeDefined();
    const stored = await gauge(registry, 'sealpost_audit_last_stored_checkpoint_timestamp_seconds');
    expect(stored).toBeGreaterThanOrEqual(first!.timeMs / 1000);
    expect((await store.checkpoints()).at(-1)!.count).toBe(8);
    expect(await gauge(registry, 'sealpost_audit_last_checkpoint_timestamp_seconds')).toBe(
      first!.timeMs / 1000,
    );

    // Path back: the stored checkpoint is published on the next tick and the gauge catches up.
    await proxy.start();
    await waitFor(
      async () =>
        (await gauge(registry, 'sealpost_audit_last_checkpoint_timestamp_seconds')) === stored,
      'published gauge = stored gauge after the path is back',
      60_000,
    );
    const published = await readPublishedCheckpoints(transport, checkpointTopic, {
      groupId: `read-${checkpointTopic}`,
    });
    // The C2SP note of size 8 (the only published form now, docs/AUDIT.md) reached the topic.
    expect(published.notes.map((n) => n.split('\n')[1])).toContain('8');
  });
});
