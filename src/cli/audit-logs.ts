import { existsSync } from 'node:fs';
import { sqliteAuditLogPartitions, sqliteAuditLogPath } from '../audit/audit-log-stores.js';
import { auditLogOrigin, defaultAuditOrigin } from '../audit/audit-tlog.js';
import type { AuditStore } from '../audit/audit-store.js';
import { SqliteAuditStore } from '../audit/sqlite-audit-store.js';
import { badInput, type CliContext } from './cli-support.js';

/** One audit log the CLI opened (docs/AUDIT.md). */
export interface OpenedAuditLog {
  /** The metadata partition; null for the single log of a store written before per-partition logs. */
  readonly partition: number | null;
  readonly origin: string;
  readonly store: AuditStore;
}

/**
 * The logs beside SEALPOST_AUDIT_DB: one SQLite file per metadata partition (`audit.p<N>.db`), and
 * the single log of SEALPOST_AUDIT_DB itself when a worker from before per-partition logs wrote it
 * (its origin `sealpost/audit/<metadata topic>`, or `origin`). With `partition`, only that log.
 * Refuses to create a new, empty store.
 */
export function openAuditLogs(
  ctx: CliContext,
  options: { readonly partition?: number; readonly origin?: string } = {},
): Promise<OpenedAuditLog[]> {
  return Promise.resolve(openSqliteAuditLogs(ctx, options));
}

function openSqliteAuditLogs(
  ctx: CliContext,
  options: { readonly partition?: number; readonly origin?: string },
): OpenedAuditLog[] {
  const base = ctx.config.auditDb;
  const cluster = ctx.config.clusterName;
  const topic = ctx.config.metadataTopic;
  const partitions =
    options.partition === undefined ? sqliteAuditLogPartitions(base) : [options.partition];
  const logs: OpenedAuditLog[] = [];
  for (const p of partitions) {
    const path = sqliteAuditLogPath(base, p);
    if (!existsSync(path)) {
      throw badInput(
        `no audit log for partition ${p} at ${path} — the audit worker of SEALPOST_AUDIT_DB creates one per metadata partition it consumed`,
      );
    }
    logs.push({
      partition: p,
      origin: options.origin ?? auditLogOrigin({ cluster, topic, partition: p }),
      store: new SqliteAuditStore(path, ctx.crypto),
    });
  }
  if (options.partition === undefined && existsSync(base))
    logs.push({
      partition: null,
      origin: options.origin ?? defaultAuditOrigin(topic),
      store: new SqliteAuditStore(base, ctx.crypto),
    });
  if (logs.length === 0) {
    throw badInput(
      `no audit store at ${base} (nor its per-partition logs) — set SEALPOST_AUDIT_DB to the audit worker's store (\`npm run worker:audit\` creates it)`,
    );
  }
  return logs;
}

/** Closes every log. */
export async function closeAuditLogs(logs: readonly OpenedAuditLog[]): Promise<void> {
  for (const l of logs) await l.store.close();
}
