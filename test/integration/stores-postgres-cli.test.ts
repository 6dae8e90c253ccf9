/**
 * The CLI reads the store the configuration selects: with SEALPOST_STORE=postgres, `quarantine list`,
 * `quarantine purge`, `audit query` and `audit tail` see what workers wrote to PostgreSQL (a real
 * server, a fresh schema), the password coming from a file by reference; `config check` masks the URL.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAuditLogStores } from '../../src/audit/postgres-audit-log-stores.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { PostgresQuarantineStore } from '../../src/dlq/postgres-quarantine-store.js';
import { PostgresDatabase } from '../../src/stores/postgres-database.js';
import { auditEvent } from '../support/audit-log-fixture.js';
import { postgresTestUrl } from '../support/postgres-endpoint.js';
import { runCli } from '../support/run-cli.js';

const url = postgresTestUrl();
const schema = `t_${randomBytes(6).toString('hex')}`;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sealpost-pg-cli-'));
  const u = new URL(url);
  const passwordFile = join(dir, 'pg-password');
  writeFileSync(passwordFile, decodeURIComponent(u.password));
  chmodSync(passwordFile, 0o600);
  u.password = '';
  env = {
    SEALPOST_STORE: 'postgres',
    SEALPOST_POSTGRES_URL: u.toString(),
    SEALPOST_POSTGRES_PASSWORD_FILE: passwordFile,
    SEALPOST_POSTGRES_SCHEMA: schema,
    // No SQLite file here: the CLI must not look for one.
    SEALPOST_AUDIT_DB: join(dir, 'absent-audit.db'),
    SEALPOST_QUARANTINE_DB: join(dir, 'absent-quarantine.db'),
  };
  const crypto = await createCryptoProvider();
  // Two metadata partitions' logs (even events in log 0, odd in log 1), as the audit workers write them.
  const logs = postgresAuditLogStores({ url, schema }, crypto);
  for (const partition of [0, 1]) {
    const log = await logs.open({ cluster: 'kafka', topic: 'sealpost.metadata', partition });
    await log.append(
      Array.from({ length: 12 }, (_, n) => auditEvent(n)).filter((_, n) => n % 2 === partition),
    );
    await log.close();
  }
  await logs.close();
  const quarantine = await PostgresQuarantineStore.open({ url, schema });
  await quarantine.add(
    [0, 1, 2].map((n) => ({
      dlqTopic: 'sealpost.dead-letter',
      dlqPartition: 0,
      dlqOffset: String(n),
      reason: n === 2 ? ('STALE' as const) : ('HEADER' as const),
      sourceTopic: 'orders.v1',
      sourcePartition: 0,
      sourceOffset: String(10 + n),
      sourceTimestamp: null,
      consumerGroup: 'billing',
      consumer: 'billing',
      attempt: 1,
      key: null,
      value: new Uint8Array([n]),
      headers: [],
      valueHash: 'ab'.repeat(32),
      signatureVerified: true,
      arrivedAtMs: 1_700_000_000_000,
    })),
  );
  await quarantine.close();
});
afterAll(async () => {
  const db = await PostgresDatabase.connect({ url });
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sealpost CLI on the PostgreSQL stores (SEALPOST_STORE=postgres)', () => {
  it('quarantine list and purge read and change the PostgreSQL store', async () => {
    const list = await runCli(['quarantine', 'list', '--json'], env);
    expect(list.code, list.err).toBe(0);
    expect((JSON.parse(list.out) as { reason: string }[]).map((e) => e.reason)).toEqual([
      'HEADER',
      'HEADER',
      'STALE',
    ]);
    const purge = await runCli(
      ['quarantine', 'purge', '--reason', 'STALE', '--yes', '--json'],
      env,
    );
    expect(purge.code, purge.err).toBe(0);
    expect(JSON.parse(purge.out)).toMatchObject({ purged: 1 });
    const after = await runCli(['quarantine', 'list', '--json'], env);
    expect(JSON.parse(after.out)).toHaveLength(2);
  });

  it('audit query and tail read the PostgreSQL logs, merged by event time', async () => {
    const messageIds = (ns: number[]) => ns.map((n) => auditEvent(n).messageId);
    const query = await runCli(['audit', 'query', '--type', 'rejected', '--json'], env);
    expect(query.code, query.err).toBe(0);
    const rejected = JSON.parse(query.out) as { index: number; event: { messageId: string } }[];
    expect(rejected.map((e) => e.event.messageId)).toEqual(messageIds([0, 3, 6, 9]));
    // Each event's index in its own log (even events in log 0, odd in log 1).
    expect(rejected.map((e) => e.index)).toEqual([0, 1, 3, 4]);
    const tail = await runCli(['audit', 'tail', '-n', '2', '--json'], env);
    expect(tail.code, tail.err).toBe(0);
    expect(
      tail.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { event: { messageId: string } }).event.messageId),
    ).toEqual(messageIds([10, 11]));
  });

  it('config check masks the PostgreSQL URL', async () => {
    const withPassword = { ...env, SEALPOST_POSTGRES_URL: url };
    const r = await runCli(['config', 'check', '--json'], withPassword);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      config: { store: 'postgres', postgresUrl: '(set)' },
    });
    expect(r.out).not.toContain(decodeURIComponent(new URL(url).password));
  });
});
