/**
 * The audit worker as a real process (workers/audit/main.ts), killed with SIGKILL three times during
 * a run of 20,000 events: the log ends with every event exactly once, and it verifies against the
 * checkpoints stored beside it and those published on the checkpoint topic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteAuditLogPath } from '../../src/audit/audit-log-stores.js';
import {
  auditLeafHashes,
  auditLogOrigin,
  verifyTlogCheckpoints,
} from '../../src/audit/audit-tlog.js';
import { readPublishedCheckpoints } from '../../src/audit/checkpoint-topic.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import { getEndpoints } from '../support/endpoints.js';
import { waitFor } from '../support/test-transport.js';
import { metadataToAudit, useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'audit-kill',
  clientId: 'audit-kill',
  topics: 0,
  metadataTopic: 2,
  checkpointTopic: 'retained',
  services: metadataToAudit,
});
const { t, transport, checkpoints: checkpointTopic } = sc;

const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
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

/** Entries in both logs (the metadata topic has two partitions: one log each, docs/AUDIT.md). */
function logCount(base: string): number {
  return entryCount(sqliteAuditLogPath(base, 0)) + entryCount(sqliteAuditLogPath(base, 1));
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

describe('audit worker process (real Kafka and registry)', () => {
  it('ends with a verifying log, nothing missing and nothing twice, after three SIGKILLs in 20,000 events', async () => {
    const total = 20_000;
    // The events: 20,000 from `orders`, sealed to `audit` in batches of 50 (400 records).
    const emitter = await sc.emitter('orders', { maxBatch: 50 });
    for (let i = 0; i < total; i++) {
      emitter.emit({
        type: 'sealed',
        topic: 'orders',
        messageId: i.toString(16).padStart(32, '0'),
        partition: i % 3,
        sizeBytes: 1024,
      });
    }
    await emitter.close();
    expect(emitter.sent).toBe(total);

    const e = getEndpoints();
    const directoryFile = join(sc.world.dir, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify(sc.world.document()));
    const identityFile = join(sc.world.dir, 'audit.identity.json');
    await writeIdentityFile(identityFile, sc.world.files.get('audit')!, { overwrite: true });
    const dbPath = join(sc.world.dir, 'audit.db');
    const env = {
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
      SEALPOST_KMS: 'local',
      SEALPOST_LOCAL_KEK_FILE: join(sc.world.dir, 'kek.json'),
      SEALPOST_IDENTITY_FILE: identityFile,
      SEALPOST_DIRECTORY_FILE: directoryFile,
      SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
        sc.world.document().authority.publicKey,
        'base64',
      ).toString('hex'),
      SEALPOST_METADATA_TOPIC: t.metadata,
      SEALPOST_CHECKPOINT_TOPIC: checkpointTopic,
      SEALPOST_STATE_TOPIC: t.state,
      SEALPOST_DEAD_LETTER_TOPIC: t.dlq,
      SEALPOST_AUDIT_DB: dbPath,
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_LOG_LEVEL: 'warn',
      SEALPOST_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };

    for (let kill = 0; kill < 3; kill++) {
      const { child, ready } = startWorker(env);
      await ready;
      const before = logCount(dbPath);
      await waitFor(
        () => logCount(dbPath) > before + 500 || logCount(dbPath) >= total,
        'progress before the kill',
        90_000,
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    expect(logCount(dbPath)).toBeLessThan(total);

    const { child, ready } = startWorker(env);
    await ready;
    await waitFor(() => logCount(dbPath) >= total, 'all 20,000 events in the log', 120_000);
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => child.once('exit', r))).toBe(0);

    const published = await readPublishedCheckpoints(transport, checkpointTopic, {
      groupId: `cp-${checkpointTopic}`,
    });
    const audit = await sc.world.identity('audit');
    const messageIds = new Set<string | undefined>();
    let rows = 0;
    for (const partition of [0, 1]) {
      const store = new SqliteAuditStore(sqliteAuditLogPath(dbPath, partition), sc.world.crypto);
      try {
        const logged = await store.query({ limit: 100_000 });
        rows += logged.length;
        for (const r of logged) messageIds.add(r.event.messageId);
        const report = await verifyAuditLog(
          sc.world.crypto,
          store.entries(),
          await store.checkpoints(),
          audit.signingKey().publicKey,
          audit.signingKey().kid,
        );
        expect(report).toMatchObject({ ok: true, count: logged.length });
        // Each log's published notes: consecutive pairs consistent, the newest its stored head.
        const tlog = verifyTlogCheckpoints(
          sc.world.crypto,
          await auditLeafHashes(sc.world.crypto, store.entries()),
          published.notes,
          auditLogOrigin({ cluster: 'kafka', topic: t.metadata, partition }),
          audit.signingKey().publicKey,
        );
        expect(tlog).toMatchObject({ ok: true });
        expect(tlog.checkpoints).toBeGreaterThanOrEqual(5);
      } finally {
        await store.close();
      }
    }
    expect(rows).toBe(total);
    expect(messageIds.size).toBe(total);
  });
});
