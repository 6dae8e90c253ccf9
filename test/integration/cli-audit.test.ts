import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointToJson, type AuditCheckpoint } from '../../src/audit/audit-checkpoint.js';
import { CHECKPOINT_RECORD_KEY } from '../../src/audit/audit-worker.js';
import { getEndpoints } from '../support/endpoints.js';
import { createTopics, freshTopic, testTransport } from '../support/test-transport.js';
import { makeAuditFixture, tamperEvent, type AuditFixture } from '../support/audit-log-fixture.js';
import { runCli } from '../support/run-cli.js';

/**
 * `sealpost audit verify` against checkpoints published on a real topic: a good log passes, an edited
 * entry is caught at its index, and a truncated store (stored checkpoints rewritten to match) is caught
 * only because a checkpoint lives outside the store.
 */
const transport = testTransport('cli-audit-it');
const checkpointTopic = freshTopic('cli-audit-checkpoints');
let dir: string;
let fx: AuditFixture;
let env: Record<string, string>;

async function publish(checkpoints: readonly AuditCheckpoint[]): Promise<void> {
  const producer = transport.producer();
  await producer.connect();
  try {
    for (const c of checkpoints) {
      await producer.send({
        topic: checkpointTopic,
        partition: 0,
        records: [
          {
            key: Buffer.from(CHECKPOINT_RECORD_KEY),
            value: Buffer.from(JSON.stringify(checkpointToJson(c))),
          },
        ],
      });
    }
  } finally {
    await producer.disconnect();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-it-audit-'));
  fx = await makeAuditFixture(dir);
  await createTopics(transport, [{ topic: checkpointTopic }]);
  await publish([...(await fx.grow(300)), ...(await fx.grow(200))]);
  env = {
    ...fx.env,
    KAFKA_BROKERS: getEndpoints().kafkaBrokers.join(','),
    SEALPOST_CHECKPOINT_TOPIC: checkpointTopic,
  };
}, 60_000);

afterAll(async () => {
  const admin = transport.admin();
  await admin.connect();
  await admin.deleteTopics([checkpointTopic]).catch(() => undefined);
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('sealpost audit verify with published checkpoints (real Kafka)', () => {
  it('a good log: exit 0, stored and published checkpoints verified', async () => {
    const r = await runCli(['audit', 'verify', '--json'], env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      ok: true,
      count: 500,
      storedCheckpoints: 2,
      publishedCheckpoints: 2,
      checkpointsVerified: 4,
      latestPublishedCount: 500,
    });
  }, 60_000);

  it('an edited entry: exit 1, first bad index printed', async () => {
    const copy = join(dir, 'edited.db');
    await copyFile(fx.env.SEALPOST_AUDIT_DB!, copy);
    tamperEvent(copy, 123);
    const r = await runCli(['audit', 'verify'], { ...env, SEALPOST_AUDIT_DB: copy });
    expect(r.code).toBe(1);
    expect(r.out).toContain('audit log NOT OK: first bad index 123');
  }, 60_000);

  it('a truncated store with its own checkpoints removed passes offline but fails against the published ones', async () => {
    const copy = join(dir, 'truncated.db');
    await copyFile(fx.env.SEALPOST_AUDIT_DB!, copy);
    const db = new Database(copy);
    db.exec('DROP TRIGGER IF EXISTS entries_no_delete');
    db.prepare('DELETE FROM entries WHERE idx >= 400').run();
    db.prepare('DELETE FROM checkpoints WHERE count > 400').run();
    db.close();
    const offline = await runCli(['audit', 'verify', '--no-published'], {
      ...env,
      SEALPOST_AUDIT_DB: copy,
    });
    expect(offline.code, offline.out + offline.err).toBe(0);
    const r = await runCli(['audit', 'verify', '--json'], { ...env, SEALPOST_AUDIT_DB: copy });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({
      ok: false,
      problem: 'TRUNCATED',
      firstBadIndex: 400,
    });
  }, 60_000);

  it('Kafka unreachable for the published checkpoints: exit 3 naming the fix', async () => {
    const r = await runCli(['audit', 'verify', '--timeout', '5s'], {
      ...env,
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    expect(r.code).toBe(3);
    expect(r.err).toContain('npm run stack -- up');
  }, 120_000);
});
