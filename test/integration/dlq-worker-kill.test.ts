/**
 * The dead-letter worker as a real process (workers/dlq/main.ts), killed with SIGKILL three times
 * while it drains 3,000 dead letters: every one ends in quarantine exactly once. Then SIGTERM stops
 * it cleanly, and /healthz and /metrics answered while it ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADER,
  encodeDeadLetterMetadata,
  recordBytesHash,
  signDeadLetter,
} from '../../src/events/dead-letter.js';
import type { OutgoingRecord, TransportProducer } from '../../src/kafka/transport.js';
import { getEndpoints } from '../support/endpoints.js';
import { createTopics, freshTopic, waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'dlq-kill',
  clientId: 'dlq-kill-test',
  topics: 0,
  pipelineTopics: false,
  services: () => [{ name: 'billing', send: [], receive: ['orders-*'] }],
});
const { transport } = sc;

let producer: TransportProducer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  producer = transport.producer();
  await producer.connect();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await producer.disconnect();
});

function startWorker(env: Record<string, string>): { child: ChildProcess; ready: Promise<number> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/dlq/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /sealpost-dlq-worker ready port=(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) =>
      reject(new Error(`worker exited early (${code}): ${out.slice(-500)}`)),
    );
  });
  child.stderr.resume();
  return { child, ready };
}

function storedCount(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM quarantine').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

describe('dead-letter worker process (real Kafka)', () => {
  it('loses nothing and stores nothing twice across three SIGKILLs', async () => {
    const e = getEndpoints();
    const dlqTopic = freshTopic('dlq-kill');
    await createTopics(transport, [{ topic: dlqTopic, numPartitions: 2 }]);
    const billing = await sc.world.identity('billing');
    const total = 3000;
    const batches: OutgoingRecord[][] = [[], []];
    for (let i = 0; i < total; i++) {
      const value = Buffer.from(`sealed-bytes-${i}`);
      const meta = signDeadLetter(
        sc.world.crypto,
        {
          v: 1,
          class: 'MESSAGE',
          sealedDetail: {},
          topic: 'orders-x',
          partition: i % 2,
          offset: String(i),
          timestamp: '1700000000000',
          group: 'billing',
          consumer: 'billing',
          attempt: 1,
          timeMs: 1_700_000_000_000 + i,
          keyHash: '',
          valueHash: recordBytesHash(sc.world.crypto, value),
        },
        billing.signingKey().secretKey,
      );
      batches[i % 2]!.push({
        key: null,
        value,
        headers: [{ key: DEAD_LETTER_HEADER, value: encodeDeadLetterMetadata(meta) }],
      });
    }
    for (const p of [0, 1]) {
      for (let j = 0; j < batches[p]!.length; j += 250) {
        await producer.send({
          topic: dlqTopic,
          partition: p,
          records: batches[p]!.slice(j, j + 250),
        });
      }
    }
    const directoryFile = join(sc.world.dir, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify(sc.world.document()));
    const dbPath = join(sc.world.dir, 'quarantine.db');
    const env = {
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
      SEALPOST_DIRECTORY_FILE: directoryFile,
      SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
        sc.world.document().authority.publicKey,
        'base64',
      ).toString('hex'),
      SEALPOST_DEAD_LETTER_TOPIC: dlqTopic,
      SEALPOST_QUARANTINE_DB: dbPath,
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_LOG_LEVEL: 'warn',
      SEALPOST_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };

    let killedAt = 0;
    for (let kill = 0; kill < 3; kill++) {
      const { child, ready } = startWorker(env);
      await ready;
      const before = storedCount(dbPath);
      await waitFor(
        () => storedCount(dbPath) > before || storedCount(dbPath) >= total,
        'progress before the kill',
        60_000,
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      killedAt = storedCount(dbPath);
    }
    expect(killedAt).toBeGreaterThan(0);

    const { child, ready } = startWorker(env);
    const port = await ready;
    await waitFor(() => storedCount(dbPath) >= total, 'all dead letters stored', 90_000);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/sealpost_quarantine_entries\{reason="MESSAGE"\} 3000/);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(0);

    const db = new Database(dbPath, { readonly: true });
    const rows = db
      .prepare(
        'SELECT source_partition AS p, source_offset AS o, sig_verified AS v FROM quarantine',
      )
      .all() as { p: number; o: string; v: number }[];
    db.close();
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((r) => r.o)).size).toBe(total);
    expect(rows.every((r) => r.v === 1 && r.p === Number(r.o) % 2)).toBe(true);
  });
});
