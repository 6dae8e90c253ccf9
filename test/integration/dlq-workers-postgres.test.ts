/**
 * Dead-letter workers in one consumer group sharing one PostgreSQL quarantine store (a real server, a
 * fresh schema) on the real broker (issue #17 item 4, dead-letter part):
 * - two in-process workers, each with its own connection, over a 4-partition dead-letter topic;
 * - two worker processes (workers/dlq/main.ts, SEALPOST_STORE=postgres) over a 6-partition
 *   dead-letter topic, one killed with SIGKILL and another added while records are dead-lettered.
 * Invariant, checked from the store once the group committed past every record: each dead letter
 * (some written twice by their consumer) is stored exactly once, and another reader — a store
 * instance, and `sealpost quarantine list` — sees them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { getEndpoints } from '../support/endpoints.js';
import { makePipelineWorld, type PipelineWorld } from '../support/pipeline-world.js';
import { postgresTestUrl } from '../support/postgres-endpoint.js';
import { runCli } from '../support/run-cli.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
  waitForCommitted,
} from '../support/test-transport.js';

const url = postgresTestUrl();
const schema = `t_${randomBytes(6).toString('hex')}`;
/** The worker processes' schema. */
const processSchema = `t_${randomBytes(6).toString('hex')}`;
const children: ChildProcess[] = [];
let world: PipelineWorld | undefined;
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
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await producer.disconnect();
  await world?.cleanup();
  const db = await PostgresDatabase.connect({ url });
  for (const s of [schema, processSchema]) await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
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

function startWorker(env: Record<string, string>): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/dlq/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('sealpost-dlq-worker ready')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`dead-letter worker exited early (${code}): ${err}`)),
    );
  });
  return { child, ready };
}

/** Entries in the processes' quarantine store (0 before a worker created the tables). */
async function storedCount(): Promise<number> {
  const db = await PostgresDatabase.connect({ url, schema: processSchema });
  try {
    const { rows } = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM quarantine');
    return Number(rows[0]!.n);
  } catch {
    return 0;
  } finally {
    await db.close();
  }
}

describe('dead-letter worker processes sharing a PostgreSQL quarantine store (real Kafka, real PostgreSQL)', () => {
  it('one SIGKILLed and one added while records are dead-lettered: every entry stored once, and quarantine list sees them all', async () => {
    world = await makePipelineWorld([{ name: 'billing', send: [], receive: ['orders-*'] }]);
    const billing = await world.identity('billing');
    const PARTITIONS = 6;
    const dlqTopic = freshTopic('dlq-pg-procs');
    const sourceTopic = freshTopic('orders-pg-procs');
    await createTopics(transport, [{ topic: dlqTopic, numPartitions: PARTITIONS }]);
    const total = 3000;
    const sent: Record<number, bigint> = {};
    for (let p = 0; p < PARTITIONS; p++) sent[p] = 0n;
    // Dead letters `from`..`to`-1, partition i % 6 of the dead-letter topic; every tenth written
    // twice (a consumer's redelivered write: same source coordinates and group, other offset).
    const deadLetterWave = async (from: number, to: number): Promise<void> => {
      const byPartition: OutgoingRecord[][] = Array.from({ length: PARTITIONS }, () => []);
      for (let i = from; i < to; i++) {
        const value = Buffer.from(`sealed-bytes-${i}`);
        const meta = signDeadLetter(
          world!.crypto,
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
            timeMs: 1_700_000_000_000 + i,
            keyHash: '',
            valueHash: recordBytesHash(world!.crypto, value),
          },
          billing.signingKey().secretKey,
        );
        const record: OutgoingRecord = {
          key: null,
          value,
          headers: [{ key: DEAD_LETTER_HEADER, value: encodeDeadLetterMetadata(meta) }],
        };
        byPartition[i % PARTITIONS]!.push(record);
        if (i % 10 === 0) byPartition[i % PARTITIONS]!.push(record);
      }
      for (const [p, records] of byPartition.entries()) {
        for (let j = 0; j < records.length; j += 250)
          await producer.send({
            topic: dlqTopic,
            partition: p,
            records: records.slice(j, j + 250),
          });
        sent[p] = sent[p]! + BigInt(records.length);
      }
    };

    const e = getEndpoints();
    const directoryFile = join(world.dir, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify(world.document()));
    const group = `dlq-pg-procs-${dlqTopic}`;
    const storeEnv = {
      SEALPOST_STORE: 'postgres',
      SEALPOST_POSTGRES_URL: url,
      SEALPOST_POSTGRES_SCHEMA: processSchema,
      // No SQLite file: nothing may be written there.
      SEALPOST_QUARANTINE_DB: join(world.dir, 'absent-quarantine.db'),
    };
    const env = {
      ...storeEnv,
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
      SEALPOST_DIRECTORY_FILE: directoryFile,
      SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
        world.document().authority.publicKey,
        'base64',
      ).toString('hex'),
      SEALPOST_DEAD_LETTER_TOPIC: dlqTopic,
      SEALPOST_WORKER_GROUP: group,
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_LOG_LEVEL: 'warn',
      SEALPOST_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };

    const first = [startWorker(env), startWorker(env)];
    await Promise.all(first.map((w) => w.ready));
    await deadLetterWave(0, 1000);
    await waitFor(async () => (await storedCount()) >= 300, 'progress before the kill', 90_000);
    const victim = first[0]!.child;
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    await deadLetterWave(1000, 2000);
    const atKill = await storedCount();
    await waitFor(
      async () => (await storedCount()) >= Math.min(atKill + 300, 2000),
      'progress after the kill',
      90_000,
    );
    const added = startWorker(env);
    await added.ready;
    await deadLetterWave(2000, total);
    // The workers commit only after storing: a commit past every record means all were stored.
    await waitForCommitted(transport, group, dlqTopic, sent, 180_000);
    for (const w of [first[1]!, added]) {
      w.child.kill('SIGTERM');
      expect(await new Promise<number | null>((r) => w.child.once('exit', r))).toBe(0);
    }

    const reader = await PostgresQuarantineStore.open({ url, schema: processSchema });
    try {
      const stored = await reader.list({ limit: 100_000 });
      expect(stored).toHaveLength(total);
      expect(new Set(stored.map((x) => x.sourceOffset)).size).toBe(total);
      expect(stored.every((x) => x.signatureVerified && x.sourceTopic === sourceTopic)).toBe(true);
      expect(await reader.countsByReason()).toEqual({ MESSAGE: total });
    } finally {
      await reader.close();
    }
    // The operator's view, through the CLI on the same store.
    const list = await runCli(['quarantine', 'list', '--limit', '100000', '--json'], storeEnv);
    expect(list.code, list.err).toBe(0);
    const listed = JSON.parse(list.out) as { sourceOffset: string }[];
    expect(listed).toHaveLength(total);
    expect(new Set(listed.map((x) => x.sourceOffset)).size).toBe(total);
  }, 600_000);
});
