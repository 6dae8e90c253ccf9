import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { buildKms, buildRegistry, buildTransport } from '../app/compose.js';
import { AuditWorker } from '../audit/audit-worker.js';
import { singleAuditLogStores, sqliteAuditLogPath } from '../audit/audit-log-stores.js';
import { auditLeafHashes, auditLogOrigin, verifyTlogCheckpoints } from '../audit/audit-tlog.js';
import { readPublishedCheckpoints } from '../audit/checkpoint-topic.js';
import { SqliteAuditStore } from '../audit/sqlite-audit-store.js';
import { verifyAuditLog } from '../audit/verify-audit-log.js';
import type { SealpostConfig } from '../config/config.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { DeadLetterWorker } from '../dlq/dead-letter-worker.js';
import { SqliteQuarantineStore } from '../dlq/sqlite-quarantine-store.js';
import type { ConsumedRecord, Transport } from '../kafka/transport.js';
import { FileDirectorySource } from '../keys/directory/directory-document.js';
import { KeyDirectory } from '../keys/directory/key-directory.js';
import { loadIdentity, readIdentityFile } from '../keys/identity-file.js';
import type { LoadedIdentity } from '../keys/identity.js';
import type { Kms } from '../keys/kms/kms.js';
import {
  authorityPublicKey,
  createIdentity,
  initAuthority,
  publishDirectory,
} from '../keys/operations.js';
import { MetadataEventEmitter } from '../pipeline/metadata-event-emitter.js';
import { PipelineMetrics } from '../pipeline/pipeline-metrics.js';
import { SealedConsumer } from '../pipeline/sealed-consumer.js';
import { SealedProducer } from '../pipeline/sealed-producer.js';
import type { Clock } from '../runtime/clock.js';

/** The Avro schema of the demo's order events. */
export const DEMO_ORDER_SCHEMA = JSON.stringify({
  type: 'record',
  name: 'OrderPlaced',
  namespace: 'dev.sealpost.demo',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'customer', type: 'string' },
    { name: 'email', type: 'string' },
    { name: 'amountCents', type: 'long' },
    { name: 'currency', type: 'string' },
    { name: 'shippingAddress', type: 'string' },
  ],
});

export interface DemoOptions {
  readonly config: SealpostConfig;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where the demo keeps its keys, directory and stores (wiped at start). */
  readonly workDir: string;
  /** Order events to send. Default 4,000 (over 3 partitions: enough for a replay to fall out of the window). */
  readonly orders?: number;
  /** Progress lines for a person. */
  readonly say: (line: string) => void;
  /** A unique suffix for this run's topics and groups (re-runs never collide). */
  readonly runId: string;
  /** Wait for the pipeline to drain, at most (default 180 s). */
  readonly timeoutMs?: number;
}

export interface DemoSummary {
  readonly kms: 'vault' | 'local';
  readonly sealed: number;
  readonly produceSeconds: number;
  readonly producedPerSecond: number;
  readonly opened: Readonly<Record<string, number>>;
  readonly quarantinedByReason: Readonly<Record<string, number>>;
  readonly duplicatesDropped: number;
  readonly audit: {
    readonly ok: boolean;
    readonly entries: number;
    readonly checkpoints: number;
    readonly problem?: string;
  };
  readonly kmsCalls: number;
  readonly topics: Readonly<Record<string, string>>;
}

const SERVICES = ['orders', 'billing', 'shipping', 'audit', 'dead-letter-worker'] as const;

/**
 * `sealpost demo`: the whole sealed pipeline on the embedded defaults. Creates a directory authority
 * and identities (keys wrapped by the configured KMS), publishes the directory, starts the audit and
 * dead-letter workers, sends order events sealed for `billing` and `shipping`, runs both consumers,
 * injects one tampered and one replayed record, and returns a summary. Nothing it prints contains a
 * payload or a key.
 */
export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const { config, crypto, clock, say } = o;
  const total = o.orders ?? 4000;
  const timeoutMs = o.timeoutMs ?? 180_000;
  const topics = {
    orders: `sealpost-demo-${o.runId}.orders`,
    metadata: `sealpost-demo-${o.runId}.metadata`,
    deadLetter: `sealpost-demo-${o.runId}.dead-letter`,
    state: `sealpost-demo-${o.runId}.consumer-state`,
    checkpoints: `sealpost-demo-${o.runId}.audit-checkpoints`,
  };
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    await rm(o.workDir, { recursive: true, force: true });
    await mkdir(o.workDir, { recursive: true, mode: 0o700 });

    // 1. Keys: an authority and five service identities, private keys wrapped by the KMS.
    say(
      `keys: wrapping with ${config.kms === 'vault' ? `OpenBao Transit at ${config.vaultAddr ?? '?'}` : 'the local key file'}`,
    );
    const kms = await buildKms(
      {
        ...config,
        localKekFile: config.kms === 'local' ? join(o.workDir, 'kek.json') : config.localKekFile,
      },
      { crypto, clock, createLocalKeyring: true, ensureTransitKey: true },
    );
    closers.push(() => kms.close());
    const ctx = { crypto, clock, kms };
    const authorityFile = join(o.workDir, 'authority.json');
    await initAuthority({ path: authorityFile, ...ctx });
    for (const name of SERVICES)
      await createIdentity({ path: join(o.workDir, `${name}.json`), name, ...ctx });
    say(`keys: authority + ${SERVICES.length} identities (${SERVICES.join(', ')})`);

    // 2. The signed directory: who may send and receive where.
    const directoryFile = join(o.workDir, 'directory.json');
    const grant = (name: string, send: string[], receive: string[]) => ({
      identityFile: join(o.workDir, `${name}.json`),
      sendTopics: send,
      receiveTopics: receive,
    });
    await publishDirectory({
      authorityFile,
      ...ctx,
      location: { kind: 'file', path: directoryFile },
      grants: [
        grant('orders', [topics.orders, topics.metadata], []),
        grant('billing', [topics.metadata], [topics.orders]),
        grant('shipping', [topics.metadata], [topics.orders]),
        grant('audit', [], [topics.metadata]),
        grant('dead-letter-worker', [], []),
      ],
    });
    const pinned = await authorityPublicKey(authorityFile, crypto);
    say(`directory: published and signed (authority ${pinned.kid})`);
    const openDirectory = (): Promise<KeyDirectory> =>
      KeyDirectory.open({
        crypto,
        clock,
        authorityPublicKey: pinned.publicKey,
        source: new FileDirectorySource(directoryFile),
      });
    const identities = new Map<string, LoadedIdentity>();
    for (const name of SERVICES) {
      const id = await loadIdentity(
        await readIdentityFile(join(o.workDir, `${name}.json`), crypto),
        { crypto, kms },
      );
      identities.set(name, id);
      closers.push(() => Promise.resolve(id.close()));
    }

    // 3. Topics.
    const transport = buildTransport(config, {
      logger: o.logger,
      clock,
      clientId: 'sealpost-demo',
    });
    const admin = transport.admin();
    await admin.connect();
    await admin.createTopics([
      { topic: topics.orders, numPartitions: 3 },
      { topic: topics.metadata },
      { topic: topics.deadLetter },
      { topic: topics.state, compacted: true },
      { topic: topics.checkpoints, configs: { 'retention.ms': '-1' } },
    ]);
    await admin.disconnect();
    say(`topics: ${Object.values(topics).join(', ')}`);
    const registry = buildRegistry(config);

    // 4. The workers: dead letters into quarantine, metadata events into the audit log.
    const quarantine = new SqliteQuarantineStore(join(o.workDir, 'quarantine.db'));
    const dlqDirectory = await openDirectory();
    const dlq = new DeadLetterWorker({
      transport,
      store: quarantine,
      crypto,
      clock,
      signingKeysOf: (name) =>
        dlqDirectory
          .records()
          .filter((r) => r.identity === name && r.status !== 'revoked')
          .map((r) => r.signPublicKey),
      deadLetterTopic: topics.deadLetter,
      groupId: `sealpost-demo-${o.runId}.dlq`,
      registry: new Registry(),
      logger: o.logger,
    });
    await dlq.start();
    closers.push(() => dlq.stop());
    // The demo's metadata topic has one partition: one log, partition 0's (docs/AUDIT.md).
    const auditStore = new SqliteAuditStore(
      sqliteAuditLogPath(join(o.workDir, 'audit.db'), 0),
      crypto,
    );
    const audit = new AuditWorker({
      transport,
      registry,
      crypto,
      clock,
      identity: identities.get('audit')!,
      directory: await openDirectory(),
      kms,
      logs: singleAuditLogStores(auditStore),
      metadataTopic: topics.metadata,
      checkpointTopic: topics.checkpoints,
      stateTopic: topics.state,
      deadLetterTopic: topics.deadLetter,
      groupId: `sealpost-demo-${o.runId}.audit`,
      checkpointEveryEntries: 1000,
      promRegistry: new Registry(),
      logger: o.logger,
    });
    await audit.start();
    let auditStopped = false;
    closers.push(async () => {
      if (!auditStopped) await audit.stop();
    });
    say('workers: audit and dead-letter workers running');

    const emitterFor = async (name: string): Promise<MetadataEventEmitter> => {
      const producer = new SealedProducer({
        transport,
        registry,
        crypto,
        clock,
        identity: identities.get(name)!,
        directory: await openDirectory(),
      });
      await producer.connect();
      const emitter = new MetadataEventEmitter({
        producer,
        topic: topics.metadata,
        crypto,
        clock,
        actor: name,
        flushIntervalMs: 250,
      });
      closers.push(async () => {
        await emitter.close();
        await producer.close();
      });
      return emitter;
    };

    // 5. Two consumers.
    const opened: Record<string, number> = { billing: 0, shipping: 0 };
    const consumerMetrics: PipelineMetrics[] = [];
    for (const name of ['billing', 'shipping'] as const) {
      const promRegistry = new Registry();
      const metrics = new PipelineMetrics(promRegistry);
      consumerMetrics.push(metrics);
      const consumer = new SealedConsumer({
        transport,
        groupId: `sealpost-demo-${o.runId}.${name}`,
        topics: [topics.orders],
        registry,
        crypto,
        clock,
        identity: identities.get(name)!,
        directory: await openDirectory(),
        kms,
        stateTopic: topics.state,
        deadLetterTopic: topics.deadLetter,
        fromBeginning: true,
        metrics,
        events: await emitterFor(name),
      });
      await consumer.run({
        eachMessage: () => {
          opened[name] = (opened[name] ?? 0) + 1;
          return Promise.resolve();
        },
      });
      closers.push(() => consumer.close());
    }
    say('consumers: billing and shipping subscribed');

    // 6. The producer: order events, sealed for both recipients.
    const producer = new SealedProducer({
      transport,
      registry,
      crypto,
      clock,
      identity: identities.get('orders')!,
      directory: await openDirectory(),
      valueSchemas: { [topics.orders]: DEMO_ORDER_SCHEMA },
      events: await emitterFor('orders'),
    });
    await producer.connect();
    closers.push(() => producer.close());
    const started = clock.nowMs();
    let sent = 0;
    for (let base = 0; base < total; base += 500) {
      const n = Math.min(500, total - base);
      const messages = Array.from({ length: n }, (_, i) => {
        const k = base + i;
        return {
          key: `customer-${k % 101}`,
          value: {
            orderId: `order-${o.runId}-${k}`,
            customer: `customer-${k % 101}`,
            email: `customer${k % 101}@example.com`,
            amountCents: 1000 + ((k * 37) % 90_000),
            currency: 'EUR',
            shippingAddress: `${k % 300} Demo Street, Example City`,
          },
        };
      });
      sent += (await producer.send({ topic: topics.orders, messages })).length;
    }
    const produceSeconds = Math.max(1, clock.nowMs() - started) / 1000;
    say(
      `producer: sealed and sent ${sent} order events in ${produceSeconds.toFixed(2)} s (${Math.round(sent / produceSeconds)} msg/s)`,
    );
    await waitUntil(
      clock,
      () => (opened.billing ?? 0) >= sent && (opened.shipping ?? 0) >= sent,
      timeoutMs,
      'both consumers to open every order',
    );
    say(`consumers: billing opened ${opened.billing}, shipping opened ${opened.shipping}`);

    // 7. Attacks: one tampered record, one replayed record (the very first one, long out of window).
    const first = await readRecord(
      transport,
      topics.orders,
      0,
      '0',
      `sealpost-demo-${o.runId}.inject`,
    );
    const tampered = Buffer.from(first.value!);
    // The record ends with the tags array (count, 2 × 16 bytes, end marker): 50 bytes from the end
    // is inside the ciphertext, so every recipient's tag check fails.
    tampered[tampered.length - 50]! ^= 0x01;
    const injector = transport.producer();
    await injector.connect();
    await injector.send({
      topic: topics.orders,
      partition: 0,
      records: [{ key: first.key, value: tampered, headers: first.headers }],
    });
    await injector.send({
      topic: topics.orders,
      partition: 0,
      records: [{ key: first.key, value: first.value, headers: first.headers }],
    });
    await injector.disconnect();
    say('attacks: injected one tampered record and one replay of the first record on partition 0');
    await waitUntil(
      clock,
      async () => Object.values(await quarantine.countsByReason()).reduce((a, b) => a + b, 0) >= 4,
      timeoutMs,
      'the two bad records to reach quarantine (once per consumer group)',
    );
    const quarantinedByReason = await quarantine.countsByReason();
    say(
      `quarantine: ${Object.entries(quarantinedByReason)
        .map(([r, n]) => `${r} ${n}`)
        .join(', ')}`,
    );

    // 8. The audit log: wait for the events, checkpoint, verify against the published copy.
    await waitUntil(
      clock,
      async () => (await auditStore.query({ type: 'opened', limit: 100_000 })).length >= 2 * sent,
      timeoutMs,
      'the audit log to hold every opened event',
    );
    await audit.checkpointNow();
    const published = await readPublishedCheckpoints(transport, topics.checkpoints, {
      groupId: `sealpost-demo-${o.runId}.verify`,
    });
    const auditKey = identities.get('audit')!.signingKey();
    const chain = await verifyAuditLog(
      crypto,
      auditStore.entries(),
      await auditStore.checkpoints(),
      auditKey.publicKey,
      auditKey.kid,
    );
    const tlog = verifyTlogCheckpoints(
      crypto,
      await auditLeafHashes(crypto, auditStore.entries()),
      published.notes,
      auditLogOrigin({ cluster: 'kafka', topic: topics.metadata, partition: 0 }),
      auditKey.publicKey,
    );
    const report = chain.ok ? { ...chain, ok: tlog.ok, problem: tlog.problem } : chain;
    const entries = (await auditStore.head()).count;
    say(
      `audit: ${entries} entries, ${tlog.checkpoints} published checkpoints, verification ${report.ok ? 'OK' : `FAILED at ${chain.firstBadIndex ?? '?'} (${report.problem ?? ''})`}`,
    );
    let duplicatesDropped = 0;
    for (const m of consumerMetrics) duplicatesDropped += await counterTotal(m);
    await audit.stop();
    auditStopped = true;
    const summary: DemoSummary = {
      kms: config.kms,
      sealed: sent,
      produceSeconds,
      producedPerSecond: Math.round(sent / produceSeconds),
      opened: { ...opened },
      quarantinedByReason,
      duplicatesDropped,
      audit: {
        ok: report.ok,
        entries,
        checkpoints: tlog.checkpoints,
        ...(report.problem === undefined ? {} : { problem: report.problem }),
      },
      kmsCalls: Object.values(kms.counts()).reduce((a, b) => a + b, 0),
      topics,
    };
    await writeFile(join(o.workDir, 'summary.json'), JSON.stringify(summary, null, 2));
    return summary;
  } finally {
    await closeAll();
  }
}

async function counterTotal(metrics: PipelineMetrics): Promise<number> {
  const data = await metrics.duplicates.get();
  return data.values.reduce((a, v) => a + v.value, 0);
}

async function waitUntil(
  clock: Clock,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = clock.nowMs() + timeoutMs;
  while (!(await check())) {
    if (clock.nowMs() > deadline)
      throw new Error(`demo: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads one raw record (as the broker holds it) at a partition offset. */
async function readRecord(
  transport: Transport,
  topic: string,
  partition: number,
  offset: string,
  groupId: string,
): Promise<ConsumedRecord> {
  const consumer = transport.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got = new Promise<ConsumedRecord>((resolve) => {
      void consumer.run({
        eachMessage: (r) => {
          if (r.partition === partition && r.offset === offset) resolve(r);
          return Promise.resolve({ kind: 'processed' as const });
        },
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`demo: could not read ${topic}/${partition}@${offset}`)),
        30_000,
      );
    });
    try {
      return await Promise.race([got, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect();
  }
}

/** Reference to the KMS type, so the summary can say which one wrapped the keys. */
export type DemoKms = Kms;
