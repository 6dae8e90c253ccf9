/**
 * The dead-letter worker on the real broker: signed dead letters, duplicates and garbage on the
 * dead-letter topic all end in quarantine, byte-identical, once each, in order per source partition;
 * release re-publishes the identical bytes to the source partition, once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider, KeyPair } from '../../src/crypto/provider.js';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import { releaseQuarantined } from '../../src/dlq/quarantine-release.js';
import { SqliteQuarantineStore } from '../../src/dlq/sqlite-quarantine-store.js';
import {
  DEAD_LETTER_HEADER,
  encodeDeadLetterMetadata,
  recordBytesHash,
  signDeadLetter,
  type CoarseClass,
} from '../../src/events/dead-letter.js';
import type { OutgoingRecord, Transport, TransportProducer } from '../../src/kafka/transport.js';
import { systemClock } from '../../src/runtime/clock.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
  waitForCommitted,
} from '../support/test-transport.js';

let crypto: CryptoProvider;
let transport: Transport;
let producer: TransportProducer;
let consumerKeys: KeyPair;
let dir: string;

beforeAll(async () => {
  crypto = await createCryptoProvider();
  transport = testTransport('dlq-worker-test');
  producer = transport.producer();
  await producer.connect();
  consumerKeys = crypto.signKeyPair();
  dir = mkdtempSync(join(tmpdir(), 'sealpost-dlq-it-'));
});
afterAll(async () => {
  await producer.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

function deadLetter(
  source: { topic: string; partition: number; offset: number },
  reason: CoarseClass,
  value: Buffer,
  key: Buffer | null,
  originalHeaders: { key: string; value: Buffer | null }[] = [],
): OutgoingRecord {
  const meta = signDeadLetter(
    crypto,
    {
      v: 1,
      class: reason,
      sealedDetail: {},
      topic: source.topic,
      partition: source.partition,
      offset: String(source.offset),
      timestamp: '1700000000000',
      group: 'billing',
      consumer: 'billing',
      attempt: 1,
      timeMs: Date.now(),
      keyHash: recordBytesHash(crypto, key),
      valueHash: recordBytesHash(crypto, value),
    },
    consumerKeys.secretKey,
  );
  return {
    key,
    value,
    headers: [
      ...originalHeaders,
      { key: DEAD_LETTER_HEADER, value: encodeDeadLetterMetadata(meta) },
    ],
  };
}

describe('dead-letter worker (real Kafka)', () => {
  it('quarantines every dead letter byte-identical, once, keeps garbage, and releases once', async () => {
    const dlqTopic = freshTopic('dlq');
    const sourceTopic = freshTopic('source');
    await createTopics(transport, [
      { topic: dlqTopic, numPartitions: 1 },
      { topic: sourceTopic, numPartitions: 2 },
    ]);
    const reasons: CoarseClass[] = [
      'MALFORMED',
      'CONTEXT',
      'HEADER',
      'MESSAGE',
      'STALE',
      'SCHEMA',
      'PAYLOAD',
    ];
    const records: OutgoingRecord[] = [];
    for (let i = 0; i < 70; i++) {
      const value = Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), Buffer.from(`sealed-${i}`)]);
      records.push(
        deadLetter(
          { topic: sourceTopic, partition: i % 2, offset: i },
          reasons[i % 7]!,
          value,
          Buffer.from(`k${i}`),
          [
            { key: 'trace-id', value: Buffer.from(`t${i}`) },
            { key: 'empty', value: Buffer.alloc(0) },
          ],
        ),
      );
    }
    records.push(records[5]!, records[6]!); // the consumer wrote two dead letters twice
    records.push({ key: null, value: Buffer.from('not a dead letter at all'), headers: [] });
    records.push({
      key: Buffer.from('x'),
      value: Buffer.from([0xff, 0xfe]),
      headers: [{ key: DEAD_LETTER_HEADER, value: Buffer.from('{bad json') }],
    });
    await producer.send({ topic: dlqTopic, partition: 0, records });

    const store = new SqliteQuarantineStore(join(dir, 'q1.db'));
    const registry = new Registry();
    const worker = new DeadLetterWorker({
      transport,
      store,
      crypto,
      clock: systemClock,
      signingKeysOf: (id) => (id === 'billing' ? [consumerKeys.publicKey] : []),
      deadLetterTopic: dlqTopic,
      groupId: `dlq-${dlqTopic}`,
      registry,
      logger: testLogger,
    });
    await worker.start();
    try {
      await waitFor(
        async () => (await store.list({ limit: 1000 })).length >= 72,
        'all dead letters quarantined',
      );
      // The worker commits only after storing: once its commit covers all 74 records, every one of
      // them (the two repeats included) has been through the store, so the count below is final.
      await waitForCommitted(transport, `dlq-${dlqTopic}`, dlqTopic, {
        0: BigInt(records.length),
      });
      const all = await store.list({ limit: 1000 });
      expect(all).toHaveLength(72);
      const sealpost = all.filter((e) => e.reason !== 'unrecognised');
      expect(sealpost).toHaveLength(70);
      expect(all.filter((e) => e.reason === 'unrecognised')).toHaveLength(2);
      for (const e of sealpost) {
        const i = Number(e.sourceOffset);
        expect(Buffer.from(e.value!).toString('latin1')).toBe(
          Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), Buffer.from(`sealed-${i}`)]).toString(
            'latin1',
          ),
        );
        expect(Buffer.from(e.key!).toString()).toBe(`k${i}`);
        expect(e.headers).toEqual([
          { key: 'trace-id', value: Buffer.from(`t${i}`).toString('base64') },
          { key: 'empty', value: '' },
        ]);
        expect(e).toMatchObject({
          reason: reasons[i % 7],
          sourceTopic,
          sourcePartition: i % 2,
          consumerGroup: 'billing',
          attempt: 1,
          signatureVerified: true,
        });
      }
      // order per source partition is the order of arrival
      for (const p of [0, 1]) {
        const offsets = sealpost
          .filter((e) => e.sourcePartition === p)
          .map((e) => Number(e.sourceOffset));
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/sealpost_quarantine_entries\{reason="unrecognised"\} 2/);
      expect(worker.health().ok).toBe(true);

      // release: identical bytes to the source partition, once
      const target = sealpost.find((e) => e.sourcePartition === 1)!;
      const r1 = await releaseQuarantined(store, producer, target.id, { nowMs: Date.now() });
      const r2 = await releaseQuarantined(store, producer, target.id, { nowMs: Date.now() });
      expect(r1).toMatchObject({ outcome: 'released', topic: sourceTopic, partition: 1 });
      expect(r2.outcome).toBe('already-released');
      const admin = transport.admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(sourceTopic);
      await admin.disconnect();
      expect(offsets.find((o) => o.partition === 1)!.high).toBe('1');
      expect(offsets.find((o) => o.partition === 0)!.high).toBe('0');
      // the released record is the original, byte for byte, headers included
      const reader = transport.consumer({ groupId: `read-${sourceTopic}` });
      const seen: { key: string; value: string; headers: string[] }[] = [];
      await reader.connect();
      await reader.subscribe({ topics: [sourceTopic], fromBeginning: true });
      await reader.run({
        eachMessage: (rec) => {
          seen.push({
            key: rec.key!.toString('latin1'),
            value: rec.value!.toString('latin1'),
            headers: rec.headers.map((h) => `${h.key}=${h.value?.toString('latin1') ?? '<null>'}`),
          });
          return Promise.resolve({ kind: 'processed' as const });
        },
      });
      await waitFor(() => seen.length === 1, 'the released record');
      await reader.disconnect();
      expect(seen[0]).toEqual({
        key: Buffer.from(target.key!).toString('latin1'),
        value: Buffer.from(target.value!).toString('latin1'),
        headers: [`trace-id=t${target.sourceOffset}`, 'empty='],
      });
      await expect(
        releaseQuarantined(store, producer, all.find((e) => e.reason === 'unrecognised')!.id, {
          nowMs: 0,
        }),
      ).rejects.toMatchObject({ code: 'QUARANTINE_NO_SOURCE' });
    } finally {
      await worker.stop();
    }
  });
});
