import type { CryptoProvider } from '../crypto/provider.js';
import { PostgresDatabase, type PostgresConnectOptions } from '../stores/postgres-database.js';
import type { AuditLogStores } from './audit-log-stores.js';
import type { AuditStore } from './audit-store.js';
import { auditLogOrigin, parseAuditLogOrigin } from './audit-tlog.js';
import { PostgresAuditStore, SINGLE_AUDIT_LOG } from './postgres-audit-store.js';

/**
 * Every audit log in one PostgreSQL database (docs/STORES.md): log p is the rows named by its origin
 * (`sealpost/audit/<cluster>/<topic>/<p>`), so the members of an audit group on several hosts write
 * the same logs. One connection pool for all of them, opened (and the schema migrated) on first use
 * and closed by `close`; the stores it hands out leave it open.
 */
export function postgresAuditLogStores(
  options: PostgresConnectOptions,
  crypto: CryptoProvider,
): AuditLogStores {
  let connecting: Promise<PostgresDatabase> | undefined;
  const database = (): Promise<PostgresDatabase> => {
    connecting ??= (async () => {
      const db = await PostgresDatabase.connect(options);
      try {
        await PostgresAuditStore.migrate(db);
      } catch (err) {
        await db.close();
        throw err;
      }
      return db;
    })().catch((err: unknown) => {
      connecting = undefined; // a server briefly unavailable: the next call connects again
      throw err;
    });
    return connecting;
  };
  return {
    async open(log): Promise<AuditStore> {
      return PostgresAuditStore.onDatabase(await database(), crypto, auditLogOrigin(log));
    },
    async partitions(of): Promise<number[]> {
      return (await PostgresAuditStore.logNames(await database()))
        .map((name) => parseAuditLogOrigin(name))
        .filter((id) => id !== undefined && id.cluster === of.cluster && id.topic === of.topic)
        .map((id) => id!.partition)
        .sort((a, b) => a - b);
    },
    async openSingle(): Promise<AuditStore | undefined> {
      const db = await database();
      return (await PostgresAuditStore.logNames(db)).includes(SINGLE_AUDIT_LOG)
        ? PostgresAuditStore.onDatabase(db, crypto, SINGLE_AUDIT_LOG)
        : undefined;
    },
    async close(): Promise<void> {
      const pending = connecting;
      connecting = undefined;
      if (pending !== undefined) await (await pending.catch(() => undefined))?.close();
    },
  };
}
