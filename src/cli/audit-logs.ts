import { sqliteAuditLogPath } from '../audit/audit-log-stores.js';
import type { AuditStore } from '../audit/audit-store.js';
import { auditLogOrigin, defaultAuditOrigin } from '../audit/audit-tlog.js';
import { openConfiguredAuditLogStores } from '../stores/open-stores.js';
import { badInput, parseCount, type CliContext } from './cli-support.js';

/** One audit log the CLI opened (docs/AUDIT.md). */
export interface OpenedAuditLog {
  /** The metadata partition; null for the single log of a store written before per-partition logs. */
  readonly partition: number | null;
  readonly origin: string;
  readonly store: AuditStore;
}

/** The logs the CLI opened, and how to close them. */
export interface OpenedAuditLogs {
  readonly logs: readonly OpenedAuditLog[];
  close(): Promise<void>;
}

/**
 * The configured audit logs (SEALPOST_STORE): with SQLite one file per metadata partition beside
 * SEALPOST_AUDIT_DB (`audit.p<N>.db`), with PostgreSQL the logs of SEALPOST_CLUSTER_NAME's metadata
 * topic in the database (docs/STORES.md); and the single log a worker from before per-partition logs
 * wrote (SEALPOST_AUDIT_DB itself, or PostgreSQL's unnamed log; its origin
 * `sealpost/audit/<metadata topic>`, or `origin`). With `partition`, only that log. Refuses to create a
 * new, empty store.
 */
export async function openAuditLogs(
  ctx: CliContext,
  options: { readonly partition?: number; readonly origin?: string } = {},
): Promise<OpenedAuditLogs> {
  const base = ctx.config.auditDb;
  const postgres = ctx.config.store === 'postgres';
  const of = { cluster: ctx.config.clusterName, topic: ctx.config.metadataTopic };
  const stores = openConfiguredAuditLogStores(ctx.config, ctx.crypto);
  const logs: OpenedAuditLog[] = [];
  const close = async (): Promise<void> => {
    try {
      for (const l of logs) await l.store.close();
    } finally {
      await stores.close();
    }
  };
  try {
    const present = await stores.partitions(of);
    const partitions = options.partition === undefined ? present : [options.partition];
    for (const partition of partitions) {
      if (!present.includes(partition)) {
        throw badInput(
          postgres
            ? `no audit log for partition ${partition} in the PostgreSQL store — the audit worker writes one per metadata partition it consumed`
            : `no audit log for partition ${partition} at ${sqliteAuditLogPath(base, partition)} — the audit worker of SEALPOST_AUDIT_DB creates one per metadata partition it consumed`,
        );
      }
      logs.push({
        partition,
        origin: options.origin ?? auditLogOrigin({ ...of, partition }),
        store: await stores.open({ ...of, partition }),
      });
    }
    if (options.partition === undefined) {
      const single = await stores.openSingle();
      if (single !== undefined)
        logs.push({
          partition: null,
          origin: options.origin ?? defaultAuditOrigin(of.topic),
          store: single,
        });
    }
    if (logs.length === 0) {
      throw badInput(
        postgres
          ? `no audit log of ${of.cluster}/${of.topic} in the PostgreSQL store — check SEALPOST_CLUSTER_NAME and SEALPOST_METADATA_TOPIC (the audit worker's)`
          : `no audit store at ${base} (nor its per-partition logs) — set SEALPOST_AUDIT_DB to the audit worker's store (\`npm run worker:audit\` creates it)`,
      );
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { logs, close };
}

/**
 * {@link openAuditLogs} as the `--partition` and `--origin` options ask (`audit verify`, `audit prove`,
 * the console's verify): `--partition` is parsed as a count, absent options open every log.
 */
export async function openAuditLogsFromOptions(
  ctx: CliContext,
  opts: { readonly partition?: string; readonly origin?: string },
): Promise<OpenedAuditLogs> {
  const partition =
    opts.partition === undefined ? undefined : parseCount(opts.partition, '--partition');
  return openAuditLogs(ctx, {
    ...(partition === undefined ? {} : { partition }),
    ...(opts.origin === undefined ? {} : { origin: opts.origin }),
  });
}
