import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { CryptoProvider } from '../crypto/provider.js';
import type { AuditLogId } from './audit-tlog.js';
import type { AuditStore } from './audit-store.js';
import { SqliteAuditStore } from './sqlite-audit-store.js';

/**
 * Where the audit logs live: one log per metadata-topic partition (docs/AUDIT.md). Every audit
 * worker of a group must open the same logs (one SQLite directory on one host, or a shared
 * database): a member that takes a partition over continues the log its previous owner wrote.
 */
export interface AuditLogStores {
  /** Opens (or creates) the store of one log; the caller closes it. */
  open(log: AuditLogId): Promise<AuditStore>;
  /** The partitions of `of`'s metadata topic whose logs exist, ascending (for readers). */
  partitions(of: Omit<AuditLogId, 'partition'>): Promise<number[]>;
  /**
   * The single log a worker from before per-partition logs wrote, when there is one (docs/AUDIT.md,
   * "Migration"); the caller closes it.
   */
  openSingle(): Promise<AuditStore | undefined>;
  /** Releases what the logs share (a PostgreSQL pool), after every opened store was closed. */
  close(): Promise<void>;
}

/**
 * The SQLite file of partition `partition`'s log beside `basePath` (SEALPOST_AUDIT_DB):
 * `audit.db` → `audit.p0.db`, `audit.p1.db`, …
 */
export function sqliteAuditLogPath(basePath: string, partition: number): string {
  if (!Number.isSafeInteger(partition) || partition < 0)
    throw new RangeError('partition out of range');
  const ext = extname(basePath);
  return join(dirname(basePath), `${basename(basePath, ext)}.p${partition}${ext}`);
}

/** The partitions whose SQLite log files exist beside `basePath`, ascending. */
export function sqliteAuditLogPartitions(basePath: string): number[] {
  const ext = extname(basePath);
  const stem = basename(basePath, ext);
  const escaped = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${escaped(stem)}\\.p(0|[1-9][0-9]{0,8})${escaped(ext)}$`);
  let names: string[];
  try {
    names = readdirSync(dirname(basePath));
  } catch {
    return [];
  }
  return names
    .map((n) => pattern.exec(n)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * One SQLite file per log, beside SEALPOST_AUDIT_DB (see sqliteAuditLogPath; the file names carry
 * the partition only: one metadata topic per SEALPOST_AUDIT_DB). The single log of before is
 * SEALPOST_AUDIT_DB itself.
 */
export function sqliteAuditLogStores(basePath: string, crypto: CryptoProvider): AuditLogStores {
  return {
    open: (log) =>
      Promise.resolve(new SqliteAuditStore(sqliteAuditLogPath(basePath, log.partition), crypto)),
    partitions: () => Promise.resolve(sqliteAuditLogPartitions(basePath)),
    openSingle: () =>
      Promise.resolve(existsSync(basePath) ? new SqliteAuditStore(basePath, crypto) : undefined),
    close: () => Promise.resolve(),
  };
}

/**
 * Every log is `store`: for a worker that consumes a one-partition metadata topic (the demo's, some
 * tests'). The worker closes the store when it stops, like every store it opened.
 */
export function singleAuditLogStores(store: AuditStore): AuditLogStores {
  return {
    open: () => Promise.resolve(store),
    partitions: () => Promise.resolve([0]),
    openSingle: () => Promise.resolve(undefined),
    close: () => Promise.resolve(),
  };
}
