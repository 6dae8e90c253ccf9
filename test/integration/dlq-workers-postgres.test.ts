/**
 * Two dead-letter workers in one consumer group, each with its own connection to one PostgreSQL
 * quarantine store (a real server, a fresh schema), over a 4-partition dead-letter topic on the real
 * broker. Invariant, checked from the store once the group committed past every record: each dead
 * letter (some written twice by their consumer) is stored exactly once, and a third instance (the
 * CLI's view) sees them all.
 */
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider, KeyPair } from '../../src/crypto/provider.js';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import { PostgresQuarantineStore } from '../../src/dlq/postgres-quarantine-store.js';
import {
  DEAD_LETTER_HEADER,
  encodeDeadLetterMetadata,
  recordBytesHash,
  signDeadLetter,
} from '../../src/events/dead-letter.js';
import type { OutgoingRecord, Transport, TransportProducer } from '../../src/kafka/transport.js';
import { systemClock } from '../../src/runtime/clock.js';
import { PostgresDatabase } from '../../src/stores/postgres-database.js';
import { postgresTestUrl } from '../support/postgres-endpoint.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitForCommitted,
} from '../support/test-transport.js';

const url = postgresTestUrl();
const schema = `t_${randomBytes(6).toString('hex')}`;
let crypto: CryptoProvider;
let transport: Transport;
let producer: TransportProducer;
let keys: KeyPair;

beforeAll(async () => {
  crypto = await createCryptoProvider();
  transport = testTransport('dlq-workers-postgres');
  producer = transport.producer();
  await producer.connect();
  keys = crypto.signKeyPair();
});
afterAll(async () => {
  await producer.disconnect();
  const db = await PostgresDatabase.connect({ url });
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
});

function deadLetter(sourceTopic: string, i: number): OutgoingRecord {
  const value = Buffer.from(`sealed-${i}`);
  const key = Buffer.from(`k${i}`);
  const meta = signDeadLetter(
    crypto,
    {
      v: 1,
      class: 'MESSAGE',
      sealedDetail: {},
      topic: sourceTopic,
      partition: i % 3,
      offset: String(i),
      timestamp: '1700000000000',
      group: 'billing',
      consumer: 'billing',
      attempt: 1,
      timeMs: 1_700_000_000_000,
      keyHash: recordBytesHash(crypto, key),
      valueHash: recordBytesHash(crypto, value),
    },
    keys.secretKey,
  );
  return {
    key,
    value,
    headers: [{ key: DEAD_LETTER_HEADER, value: encodeDeadLetterMetadata(meta) }],
  };
}

describe('dead-letter workers sharing a PostgreSQL quarantine store (real Kafka, real PostgreSQL)', () => {
  it('store every dead letter exactly once across instances, and a reader sees them all', async () => {
    const dlqTopic = freshTopic('dlq-pg');
    const sourceTopic = freshTopic('source-pg');
    await createTopics(transport, [{ topic: dlqTopic, numPartitions: 4 }]);
    const N = 200;
    const sent: Record<number, bigint> = { 0: 0n, 1: 0n, 2: 0n, 3: 0n };
    for (let p = 0; p < 4; p++) {
      const records: OutgoingRecord[] = [];
      for (let i = p; i < N; i += 4) records.push(deadLetter(sourceTopic, i));
      // Every tenth dead letter of the partition written twice (a consumer's redelivered write):
      // same source coordinates and group, other dead-letter offset.
      for (let j = 0; j < records.length; j += 10) records.push(records[j]!);
      await producer.send({ topic: dlqTopic, partition: p, records });
      sent[p] = BigInt(records.length);
    }
    const group = `dlq-pg-${dlqTopic}`;
    const workers = await Promise.all(
      [1, 2].map(async () => {
        const store = await PostgresQuarantineStore.open({ url, schema });
        return new DeadLetterWorker({
          transport,
          store,
          crypto,
          clock: systemClock,
          signingKeysOf: (id) => (id === 'billing' ? [keys.publicKey] : []),
          deadLetterTopic: dlqTopic,
          groupId: group,
          sessionTimeoutMs: 10_000,
          registry: new Registry(),
          logger: testLogger,
        });
      }),
    );
    await Promise.all(workers.map((w) => w.start()));
    const reader = await PostgresQuarantineStore.open({ url, schema });
    try {
      // Workers commit only after storing: a commit past every record means all went through a store.
      await waitForCommitted(transport, group, dlqTopic, sent, 90_000);
      const stored = await reader.list({ limit: 100_000 });
      expect(stored).toHaveLength(N);
      expect(new Set(stored.map((e) => e.sourceOffset)).size).toBe(N);
      expect(stored.every((e) => e.signatureVerified && e.sourceTopic === sourceTopic)).toBe(true);
      expect(await reader.countsByReason()).toEqual({ MESSAGE: N });
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await reader.close();
    }
  });
});
