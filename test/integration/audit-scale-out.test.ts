/**
 * Audit workers scaled out (issue #17 item 4, audit part; docs/AUDIT.md "Running N audit workers"):
 * three worker processes (workers/audit/main.ts) in one group over a 6-partition metadata topic, one
 * killed with SIGKILL and another added while they work through 20,000 events — once with the SQLite
 * logs (a file per partition) and once with every log in one PostgreSQL database (a real server, a
 * fresh schema; docs/STORES.md). Invariants, checked
 * from the stores and the checkpoint topic (the ledger), not from the workers' exit:
 * - every event emitted is stored exactly once, across the six logs;
 * - every log verifies (its chain, and its published C2SP notes: consecutive pairs consistent, the
 *   newest its stored head), and `sealpost audit verify` over all logs exits 0 (no false alarm);
 * - each log's checkpoints keep extending: several sizes, the last one its full size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  sqliteAuditLogPath,
  sqliteAuditLogStores,
  type AuditLogStores,
} from '../../src/audit/audit-log-stores.js';
import { postgresAuditLogStores } from '../../src/audit/postgres-audit-log-stores.js';
import {
  auditLeafHashes,
  auditLogOrigin,
  verifyTlogCheckpoints,
} from '../../src/audit/audit-tlog.js';
import { readPublishedCheckpoints } from '../../src/audit/checkpoint-topic.js';
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import { MetadataEventEmitter } from '../../src/pipeline/metadata-event-emitter.js';
import { SealedProducer } from '../../src/pipeline/sealed-producer.js';
import { systemClock } from '../../src/runtime/clock.js';
import { PostgresDatabase } from '../../src/stores/postgres-database.js';
import { getEndpoints } from '../support/endpoints.js';
import { postgresTestUrl } from '../support/postgres-endpoint.js';
import {
  makePipelineWorld,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';
import { runCli } from '../support/run-cli.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';

const PARTITIONS = 6;
const transport = testTransport('audit-scale-out');
/** The PostgreSQL server, looked up by the PostgreSQL run only (the SQLite run needs none). */
let postgresUrlUsed: string | undefined;
const postgresUrl = (): string => (postgresUrlUsed ??= postgresTestUrl());
const postgresSchema = `t_${randomBytes(6).toString('hex')}`;
let world: PipelineWorld;
const children: ChildProcess[] = [];

/** Fresh topics for one run (each store its own). */
function runTopics(store: string) {
  return {
    ...pipelineTopics(`audit-scale-${store}`),
    checkpoint: freshTopic(`audit-scale-${store}-cp`),
  };
}
const runs = { sqlite: runTopics('sqlite'), postgres: runTopics('postgres') };

beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [runs.sqlite.metadata, runs.postgres.metadata], receive: [] },
    { name: 'audit', send: [], receive: [runs.sqlite.metadata, runs.postgres.metadata] },
  ]);
  for (const t of Object.values(runs))
    await createTopics(transport, [
      { topic: t.metadata, numPartitions: PARTITIONS },
      { topic: t.dlq },
      { topic: t.state, compacted: true },
      { topic: t.checkpoint, numPartitions: 3, configs: { 'retention.ms': '-1' } },
    ]);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await world.cleanup();
  if (postgresUrlUsed === undefined) return;
  const db = await PostgresDatabase.connect({ url: postgresUrlUsed });
  await db.query(`DROP SCHEMA IF EXISTS ${postgresSchema} CASCADE`);
  await db.close();
});

function startWorker(env: Record<string, string>): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/audit/main.ts'], {
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
      if (out.includes('sealpost-audit-worker ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`audit worker exited early (${code}): ${err}`)));
  });
  return { child, ready };
}

function entryCount(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM entries').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

/** Entries in all six logs (SQLite: read-only, creating no file; PostgreSQL: one count). */
async function logCount(store: 'sqlite' | 'postgres', base: string): Promise<number> {
  if (store === 'postgres') {
    const db = await PostgresDatabase.connect({ url: postgresUrl(), schema: postgresSchema });
    try {
      const { rows } = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM audit_entries');
      return Number(rows[0]!.n);
    } catch {
      return 0; // no worker has created the tables yet
    } finally {
      await db.close();
    }
  }
  let n = 0;
  for (let p = 0; p < PARTITIONS; p++) n += entryCount(sqliteAuditLogPath(base, p));
  return n;
}

describe.each(['sqlite', 'postgres'] as const)(
  'three audit workers, one killed and one added, over 20,000 events (real Kafka, %s logs)',
  (store) => {
    it('stores every event exactly once in its partition log, and every log verifies', async () => {
      const t = runs[store];
      const checkpointTopic = t.checkpoint;
      const total = 20_000;
      const identity = await world.identity('orders');
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
        actor: 'orders',
        maxBatch: 50,
      });
      // Emitted in four quarters: before the workers start, after they started, after the kill, and
      // after the fourth worker joined — so the kill and the join both fall inside the run.
      let next = 0;
      const emitQuarter = async (): Promise<void> => {
        for (const end = next + total / 4; next < end; next++) {
          emitter.emit({
            type: 'sealed',
            topic: 'orders',
            messageId: next.toString(16).padStart(32, '0'),
            partition: next % 3,
            sizeBytes: 1024,
          });
        }
        await emitter.flush();
      };
      await emitQuarter();

      const e = getEndpoints();
      const directoryFile = join(world.dir, 'directory.json');
      writeFileSync(directoryFile, JSON.stringify(world.document()));
      const identityFile = join(world.dir, 'audit.identity.json');
      await writeIdentityFile(identityFile, world.files.get('audit')!, { overwrite: true });
      const dbPath = join(world.dir, `audit-${store}.db`);
      const env = {
        KAFKA_BROKERS: e.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
        SEALPOST_KMS: 'local',
        SEALPOST_LOCAL_KEK_FILE: join(world.dir, 'kek.json'),
        SEALPOST_IDENTITY_FILE: identityFile,
        SEALPOST_DIRECTORY_FILE: directoryFile,
        SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
          world.document().authority.publicKey,
          'base64',
        ).toString('hex'),
        SEALPOST_METADATA_TOPIC: t.metadata,
        SEALPOST_CHECKPOINT_TOPIC: checkpointTopic,
        SEALPOST_STATE_TOPIC: t.state,
        SEALPOST_DEAD_LETTER_TOPIC: t.dlq,
        SEALPOST_AUDIT_DB: dbPath,
        SEALPOST_WORKER_GROUP: `audit-${t.metadata}`,
        SEALPOST_HTTP_PORT: '0',
        SEALPOST_LOG_LEVEL: 'warn',
        SEALPOST_CONSUMER_SESSION_TIMEOUT_MS: '6000',
        ...(store === 'postgres'
          ? {
              SEALPOST_STORE: 'postgres',
              SEALPOST_POSTGRES_URL: postgresUrl(),
              SEALPOST_POSTGRES_SCHEMA: postgresSchema,
            }
          : {}),
      };

      const workers = [startWorker(env), startWorker(env), startWorker(env)];
      await Promise.all(workers.map((w) => w.ready));
      await emitQuarter();
      await waitFor(
        async () => (await logCount(store, dbPath)) >= 4000,
        'progress before the kill',
        120_000,
      );
      const victim = workers[0]!.child;
      victim.kill('SIGKILL');
      await new Promise((r) => victim.once('exit', r));
      await emitQuarter();
      const atKill = await logCount(store, dbPath);
      await waitFor(
        async () => (await logCount(store, dbPath)) >= atKill + 2000,
        'progress after the kill',
        120_000,
      );
      const added = startWorker(env);
      await added.ready;
      await emitQuarter();
      expect(emitter.sent).toBe(total);
      await emitter.close();
      await producer.close();
      await waitFor(
        async () => (await logCount(store, dbPath)) >= total,
        'all 20,000 events in the logs',
        240_000,
      );
      for (const w of [workers[1]!, workers[2]!, added]) {
        w.child.kill('SIGTERM');
        expect(await new Promise<number | null>((r) => w.child.once('exit', r))).toBe(0);
      }

      const published = await readPublishedCheckpoints(transport, checkpointTopic, {
        groupId: `cp-${checkpointTopic}`,
      });
      expect(published.checkpoints).toEqual([]);
      const audit = await world.identity('audit');
      const messageIds = new Set<string | undefined>();
      let rows = 0;
      const logs: AuditLogStores =
        store === 'postgres'
          ? postgresAuditLogStores({ url: postgresUrl(), schema: postgresSchema }, world.crypto)
          : sqliteAuditLogStores(dbPath, world.crypto);
      expect(await logs.partitions({ cluster: 'kafka', topic: t.metadata })).toEqual(
        Array.from({ length: PARTITIONS }, (_, p) => p),
      );
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const log = await logs.open({ cluster: 'kafka', topic: t.metadata, partition });
        try {
          const logged = await log.query({ limit: 100_000 });
          expect(logged.length).toBeGreaterThan(0);
          rows += logged.length;
          for (const r of logged) messageIds.add(r.event.messageId);
          expect(
            await verifyAuditLog(
              world.crypto,
              log.entries(),
              await log.checkpoints(),
              audit.signingKey().publicKey,
              audit.signingKey().kid,
            ),
          ).toMatchObject({ ok: true, count: logged.length });
          const origin = auditLogOrigin({ cluster: 'kafka', topic: t.metadata, partition });
          const tlog = verifyTlogCheckpoints(
            world.crypto,
            await auditLeafHashes(world.crypto, log.entries()),
            published.notes,
            origin,
            audit.signingKey().publicKey,
          );
          expect(tlog).toMatchObject({ ok: true });
          // Checkpoints kept extending: several sizes, the last the log's full size.
          const sizes = [
            ...new Set(
              published.notes
                .filter((n) => n.startsWith(`${origin}\n`))
                .map((n) => Number(n.split('\n')[1])),
            ),
          ].sort((a, b) => a - b);
          expect(sizes.length).toBeGreaterThanOrEqual(2);
          expect(sizes.at(-1)).toBe(logged.length);
        } finally {
          await log.close();
        }
      }
      await logs.close();
      expect(rows).toBe(total);
      expect(messageIds.size).toBe(total);

      // The auditor's view: every log verified by the CLI against the checkpoint topic, no alarm.
      const verify = await runCli(['audit', 'verify', '--json'], env);
      expect(verify.code, verify.out + verify.err).toBe(0);
      const report = JSON.parse(verify.out) as {
        ok: boolean;
        logs: unknown[];
        missingLogs: string[];
      };
      expect(report).toMatchObject({ ok: true, missingLogs: [] });
      expect(report.logs).toHaveLength(PARTITIONS);
    }, 600_000);
  },
);
