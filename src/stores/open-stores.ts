/**
 * Opens the audit and quarantine stores the configuration selects (docs/STORES.md): SQLite files
 * (SEALPOST_AUDIT_DB, SEALPOST_QUARANTINE_DB; the default) or PostgreSQL (SEALPOST_STORE=postgres,
 * SEALPOST_POSTGRES_URL, optionally SEALPOST_POSTGRES_PASSWORD_FILE and SEALPOST_POSTGRES_SCHEMA).
 * Used by the workers and the CLI.
 */
import { sqliteAuditLogStores, type AuditLogStores } from '../audit/audit-log-stores.js';
import { postgresAuditLogStores } from '../audit/postgres-audit-log-stores.js';
import { readSecretFile, type SealpostConfig } from '../config/config.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { PostgresQuarantineStore } from '../dlq/postgres-quarantine-store.js';
import type { QuarantineStore } from '../dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../dlq/sqlite-quarantine-store.js';
import type { PostgresConnectOptions } from './postgres-database.js';

/** The settings that choose and locate the stores. */
export type StoreConfig = Pick<
  SealpostConfig,
  'store' | 'auditDb' | 'quarantineDb' | 'postgresUrl' | 'postgresPasswordFile' | 'postgresSchema'
>;

function postgresOptions(config: StoreConfig): PostgresConnectOptions {
  return {
    // The config schema requires the URL with SEALPOST_STORE=postgres.
    url: config.postgresUrl ?? '',
    schema: config.postgresSchema,
    ...(config.postgresPasswordFile === undefined
      ? {}
      : { password: readSecretFile(config.postgresPasswordFile) }),
  };
}

/**
 * The configured audit logs, one per metadata partition (docs/AUDIT.md): SQLite files beside
 * SEALPOST_AUDIT_DB, or every log in the PostgreSQL database (connected on first use).
 */
export function openConfiguredAuditLogStores(
  config: StoreConfig,
  crypto: CryptoProvider,
): AuditLogStores {
  return config.store === 'postgres'
    ? postgresAuditLogStores(postgresOptions(config), crypto)
    : sqliteAuditLogStores(config.auditDb, crypto);
}

/** The configured quarantine store (PostgreSQL: connected, schema migrated). */
export async function openConfiguredQuarantineStore(config: StoreConfig): Promise<QuarantineStore> {
  return config.store === 'postgres'
    ? PostgresQuarantineStore.open(postgresOptions(config))
    : new SqliteQuarantineStore(config.quarantineDb);
}
