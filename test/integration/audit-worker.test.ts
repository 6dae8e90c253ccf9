/**
 * The audit worker on the real stack: events from a real SealedProducer/SealedConsumer run reach the
 * tamper-evident log with the right fields and no payload; checkpoints are signed, stored and
 * published; the log verifies against the published copies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { MetadataEventEmitter } from '../../src/pipeline/metadata-event-emitter.js';
import { SealedProducer } from '../../src/pipeline/sealed-producer.js';
import { systemClock } from '../../src/runtime/clock.js';
import { startConsumer, startProducer, type TestConsumer } from '../support/pipeline-parties.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
} from '../support/test-transport.js';

const transport = testTransport('audit-worker');
const topic = freshTopic('audit-orders');
const t = pipelineTopics('audit');
const checkpointTopic = freshTopic('audit-checkpoints');
const MARKER = 'PAYLOAD-MARKER-7f3a9c';
let world: PipelineWorld;
const closers: (() => Promise<void>)[] = [];

async function emitterFor(name: string): Promise<MetadataEventEmitter> {
  const identity = await world.identity(name);
  const producer = new SealedProducer({
    transport,
    registry: world.registry(),
    crypto: world.crypto,
    clock: systemClock,
    identity,
    directory: await world.directory(),
  });
  await producer.connect();
  const emitter = new MetadataEventEmitter({
    producer,
    topic: t.metadata,
    crypto: world.crypto,
    clock: systemClock,
    actor: name,
    flushIntervalMs: 200,
  });
  closers.push(async () => {
    await emitter.close();
    await producer.close();
  });
  return emitter;
}

beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [topic, t.metadata], receive: [] },
    { name: 'billing', send: [t.metadata], receive: [topic] },
    { name: 'audit', send: [], receive: [t.metadata] },
  ]);
  await createTopics(transport, [
    { topic, numPartitions: 2 },
    { topic: t.metadata },
    { topic: t.dlq },
    { topic: t.state, compacted: true },
    { topic: checkpointTopic, configs: { 'retention.ms': '-1' } },
  ]);
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await world.cleanup();
});

describe('audit worker (real Kafka and registry)', () => {
  it('logs sealed and opened events of a real run, without payloads, and the log verifies', async () => {
    const ordersEvents = await emitterFor('orders');
    const billingEvents = await emitterFor('billing');
    const orders = await startProducer(world, transport, 'orders', {
      valueSchemas: { [topic]: ORDER_SCHEMA },
      events: ordersEvents,
    });
    closers.push(() => orders.producer.close());
    const billing: TestConsumer = await startConsumer(world, transport, 'billing', {
      groupId: `billing-${topic}`,
      topics: [topic],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      events: billingEvents,
    });
    closers.push(() => billing.consumer.close());

    const dbPath = join(world.dir, 'audit.db');
    const store = new SqliteAuditStore(dbPath, world.crypto);
    const audit = await world.identity('audit');
    const promRegistry = new Registry();
    const worker = new AuditWorker({
      transport,
      registry: world.registry(),
      crypto: world.crypto,
      clock: systemClock,
      identity: audit,
      directory: await world.directory(),
      kms: world.kms,
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
      world.crypto,
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
      world.crypto,
      await auditLeafHashes(world.crypto, store.entries()),
      published.notes,
      auditLogOrigin({ cluster: 'kafka', topic: t.metadata, partition: 0 }),
      signer.publicKey,
    );
    expect(tlog).toMatchObject({ ok: true, checkpoints: (await store.checkpoints()).length });
    await worker.stop();
  });
});
