/**
 * The audit worker on the real stack: events from a real SealedProducer/SealedConsumer run reach the
 * tamper-evident log with the right fields and no payload; checkpoints are signed, stored and
 * published; the log verifies against the published copies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { singleAuditLogStores } from '../../src/audit/audit-log-stores.js';
import { AuditWorker } from '../../src/audit/audit-worker.js';
import {
  auditLeafHashes,
  auditLogOrigin,
  verifyTlogCheckpoints,
} from '../../src/audit/audit-tlog.js';
import { readPublishedCheckpoints } from '../../src/audit/checkpoint-topic.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js';
import type { MetadataEvent } from '../../src/events/metadata-event.js';
import type { MetadataEventEmitter } from '../../src/pipeline/metadata-event-emitter.js';
import { systemClock } from '../../src/runtime/clock.js';
import { type TestConsumer } from '../support/pipeline-parties.js';
import { testLogger, waitFor } from '../support/test-transport.js';
import { useScenario, withMetadataToAudit } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'audit',
  clientId: 'audit-worker',
  topics: ['audit-orders'],
  partitions: 2,
  metadataTopic: true,
  checkpointTopic: 'retained',
  services: withMetadataToAudit,
});
const { topic, t, transport, checkpoints: checkpointTopic } = sc;

const MARKER = 'PAYLOAD-MARKER-7f3a9c';

const emitterFor = (name: string): Promise<MetadataEventEmitter> =>
  sc.emitter(name, { flushIntervalMs: 200 });

describe('audit worker (real Kafka and registry)', () => {
  it('logs sealed and opened events of a real run, without payloads, and the log verifies', async () => {
    const ordersEvents = await emitterFor('orders');
    const billingEvents = await emitterFor('billing');
    const orders = await sc.producer('orders', {
      events: ordersEvents,
    });
    const billing: TestConsumer = await sc.consumer('billing', {
      events: billingEvents,
    });

    const dbPath = join(sc.world.dir, 'audit.db');
    const store = new SqliteAuditStore(dbPath, sc.world.crypto);
    const audit = await sc.world.identity('audit');
    const promRegistry = new Registry();
    const worker = new AuditWorker({
      transport,
      registry: sc.world.registry(),
      crypto: sc.world.crypto,
      clock: systemClock,
      identity: audit,
      directory: await sc.world.directory(),
      kms: sc.world.kms,
      logs: singleAuditLogStores(store),
      metadataTopic: t.metadata,
      checkpointTopic,
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      groupId: `audit-${topic}`,
      checkpointEveryEntries: 100,
      promRegistry,
      logger: testLogger,
    });
    await worker.start();

    const sent = await orders.producer.send({
      topic,
      messages: Array.from({ length: 200 }, (_, i) => ({
        key: `c${i % 7}`,
        value: { id: `o${i}`, cents: i, note: `${MARKER}-${i}` },
      })),
    });
    const ids = new Set(sent.map((s) => s.messageId));
    await waitFor(() => billing.total() >= 200, 'billing to receive everything', 60_000);
    await waitFor(
      async () =>
        (await store.query({ type: 'opened', limit: 10_000 })).length >= 200 &&
        (await store.query({ type: 'sealed', limit: 10_000 })).length >= 200,
      'sealed and opened events in the audit log',
      60_000,
    );

    const sealed = (await store.query({ type: 'sealed', limit: 10_000 })).map((r) => r.event);
    const opened = (await store.query({ type: 'opened', limit: 10_000 })).map((r) => r.event);
    expect(new Set(sealed.map((e) => e.messageId))).toEqual(ids);
    expect(new Set(opened.map((e) => e.messageId))).toEqual(ids);
    const one = (xs: MetadataEvent[]): MetadataEvent =>
      xs.find((e) => e.messageId === sent[0]!.messageId)!;
    expect(one(sealed)).toMatchObject({ actor: 'orders', topic, recipients: ['billing'] });
    expect(one(opened)).toMatchObject({
      actor: 'billing',
      sender: 'orders',
      topic,
      group: `billing-${topic}`,
    });
    expect(one(opened).offset).toMatch(/^\d+$/);
    expect((await store.query({ messageId: sent[5]!.messageId })).length).toBeGreaterThanOrEqual(2);
    // No payload anywhere in the store (WAL included).
    await worker.checkpointNow();
    for (const f of [dbPath, `${dbPath}-wal`]) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch {
        continue;
      }
      expect(bytes.includes(Buffer.from(MARKER))).toBe(false);
    }
    expect(await promRegistry.metrics()).toMatch(/sealpost_audit_events_appended_total \d+/);

    const published = await readPublishedCheckpoints(transport, checkpointTopic, {
      groupId: `cp-${checkpointTopic}`,
    });
    expect(published.malformed).toEqual([]);
    // Only C2SP notes are published now (docs/AUDIT.md, "Migration"); the binary ones stay stored.
    expect(published.checkpoints).toEqual([]);
    expect((await store.checkpoints()).map((c) => c.count).slice(0, 4)).toEqual([
      100, 200, 300, 400,
    ]); // ≥ 400 entries, every 100
    const signer = audit.signingKey();
    const report = await verifyAuditLog(
      sc.world.crypto,
      store.entries(),
      await store.checkpoints(),
      signer.publicKey,
      signer.kid,
    );
    expect(report).toMatchObject({ ok: true });
    expect(report.count).toBe((await store.head()).count);
    // Beside each checkpoint, a C2SP checkpoint note of the same size (docs/AUDIT.md): every
    // consecutive pair is consistent and the newest is the stored log's RFC 6962 head.
    // (A note published twice — a retry, a tick racing a checkpoint — is byte-for-byte the same.)
    expect(new Set(published.notes).size).toBe((await store.checkpoints()).length);
    const tlog = verifyTlogCheckpoints(
      sc.world.crypto,
      await auditLeafHashes(sc.world.crypto, store.entries()),
      published.notes,
      auditLogOrigin({ cluster: 'kafka', topic: t.metadata, partition: 0 }),
      signer.publicKey,
    );
    expect(tlog).toMatchObject({ ok: true, checkpoints: (await store.checkpoints()).length });
    await worker.stop();
  });
});
