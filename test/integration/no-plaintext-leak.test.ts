/**
 * A marker string placed in 10,000 payloads never appears in the dead-letter topic, the quarantine
 * store, the logs (at debug level), the metrics or the CLI output — even though the consumer
 * decrypted every one of them before refusing it (its reader schema cannot resolve the writer
 * schema, so each record fails at the SCHEMA step, after decryption, and is dead-lettered).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import { SqliteQuarantineStore } from '../../src/dlq/sqlite-quarantine-store.js';
import { AvroCodec } from '../../src/registry/avro-codec.js';
import { systemClock } from '../../src/runtime/clock.js';
import { runCli } from '../support/run-cli.js';
import { counterValue } from '../support/pipeline-world.js';
import { waitFor } from '../support/test-transport.js';
import { getEndpoints } from '../support/endpoints.js';
import { useScenario, withAuditAndDeadLetterWorker } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'leak',
  partitions: 2,
  services: withAuditAndDeadLetterWorker,
});
const { topic, t, transport } = sc;

const MARKER = 'SECRET-MARKER-5e1f0c2b';
const N = 10_000;

describe('no plaintext outside the recipient', () => {
  it(`a marker in ${N} payloads reaches no dead letter, store, log, metric or CLI output`, async () => {
    let logText = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logText += chunk.toString();
        cb();
      },
    });
    const logger = pino({ level: 'trace' }, sink);
    const orders = await sc.producer('orders', {
      logger,
    });
    for (let base = 0; base < N; base += 1000) {
      await orders.producer.send({
        topic,
        messages: Array.from({ length: 1000 }, (_, i) => ({
          key: `k${(base + i) % 13}`,
          value: { id: `o${base + i}`, cents: base + i, note: `${MARKER} #${base + i}` },
        })),
      });
    }
    // A reader schema that cannot read Order (a field of another type, no default): SCHEMA after decrypt.
    const reader = AvroCodec.parse(
      JSON.stringify({
        type: 'record',
        name: 'Order',
        namespace: 'dev.sealpost.it',
        fields: [{ name: 'note', type: 'long' }],
      }),
    );
    const billing = await sc.consumer('billing', {
      readerSchemas: { [topic]: reader },
      logger,
    });
    await waitFor(
      async () => (await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')) >= N,
      'every record dead-lettered',
      180_000,
    );
    expect(billing.total()).toBe(0);

    const dbPath = join(sc.world.dir, 'quarantine.db');
    const store = new SqliteQuarantineStore(dbPath);
    const dlqRegistry = new Registry();
    const worker = new DeadLetterWorker({
      transport,
      store,
      crypto: sc.world.crypto,
      clock: systemClock,
      signingKeysOf: sc.signingKeysOf,
      deadLetterTopic: t.dlq,
      groupId: `dlq-${topic}`,
      registry: dlqRegistry,
      logger,
    });
    await worker.start();
    await waitFor(
      async () => (await store.list({ limit: 100_000 })).length >= N,
      'everything quarantined',
      120_000,
    );
    const entries = await store.list({ limit: 100_000 });
    expect(new Set(entries.map((e) => `${e.reason}:${e.signatureVerified}`))).toEqual(
      new Set(['SCHEMA:true']),
    );
    const metricsText = (await billing.promRegistry.metrics()) + (await dlqRegistry.metrics());

    const e = getEndpoints();
    const env = { SEALPOST_QUARANTINE_DB: dbPath, KAFKA_BROKERS: e.kafkaBrokers.join(',') };
    const list = await runCli(['quarantine', 'list', '--json', '--limit', String(N)], env);
    const show = await runCli(['quarantine', 'show', String(entries[0]!.id), '--json'], env);
    const showTable = await runCli(['quarantine', 'show', String(entries[1]!.id)], env);
    expect(list.code).toBe(0);
    expect(show.code).toBe(0);
    await worker.stop();

    // The dead-letter topic itself, raw.
    const admin = transport.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(t.dlq);
    await admin.disconnect();
    expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(N);
    const rawDlq: Buffer[] = [];
    const reader2 = transport.consumer({ groupId: `raw-${t.dlq}` });
    await reader2.connect();
    await reader2.subscribe({ topics: [t.dlq], fromBeginning: true });
    await reader2.run({
      eachMessage: (r) => {
        rawDlq.push(
          r.value ?? Buffer.alloc(0),
          ...r.headers.map((h) => h.value ?? Buffer.alloc(0)),
        );
        return Promise.resolve({ kind: 'processed' as const });
      },
    });
    await waitFor(() => rawDlq.length >= N, 'the raw dead-letter records', 60_000);
    await reader2.disconnect();

    const marker = Buffer.from(MARKER);
    expect(rawDlq.some((b) => b.includes(marker))).toBe(false);
    for (const f of [dbPath, `${dbPath}-wal`]) {
      let bytes: Buffer | undefined;
      try {
        bytes = readFileSync(f);
      } catch {
        bytes = undefined;
      }
      if (bytes) expect(bytes.includes(marker)).toBe(false);
    }
    expect(logText.length).toBeGreaterThan(0);
    expect(logText).not.toContain(MARKER);
    expect(metricsText).not.toContain(MARKER);
    for (const r of [list, show, showTable]) {
      expect(r.out + r.err).not.toContain(MARKER);
    }
    expect(list.out).toContain('SCHEMA');
  });
});
