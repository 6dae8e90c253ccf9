/**
 * `sealpost audit verify` as a function (docs/AUDIT.md): the configured logs' hash chains, their stored
 * and published checkpoints and the published C2SP notes checked, with the same result the CLI prints
 * and the console shows ("verify now", docs/CONSOLE.md).
 */
import type { AuditCheckpoint } from '../audit/audit-checkpoint.js';
import { readPublishedCheckpoints } from '../audit/checkpoint-topic.js';
import { verifyAuditLog } from '../audit/verify-audit-log.js';
import {
  auditLeafHashes,
  parseAuditLogOrigin,
  verifyTlogCheckpoints,
  type TlogVerifyReport,
} from '../audit/audit-tlog.js';
import { FileDirectorySource } from '../keys/directory/directory-document.js';
import { KeyDirectory } from '../keys/directory/key-directory.js';
import { openAuditLogsFromOptions } from './audit-logs.js';
import {
  assertTopicExists,
  badInput,
  cliTransport,
  withHints,
  type CliContext,
} from './cli-support.js';
import { directoryLocationOf, pinnedAuthorityKey, withLocation } from './directory-commands.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The audit identity's signing key from the validated directory. With several generations (a rotated
 * audit key), the one that signed the latest checkpoint is chosen, else the active one.
 */
export async function auditSigner(
  ctx: CliContext,
  opts: {
    auditIdentity: string;
    authorityKey?: string;
    authority?: string;
    directoryFile?: string;
    directoryTopic?: string;
  },
  checkpoints: readonly AuditCheckpoint[],
): Promise<{
  publicKey: Uint8Array;
  kid: Uint8Array;
  status: string;
  /** Every signing key of the audit identity, oldest first (a rotated key: docs/AUDIT.md). */
  all: { publicKey: Uint8Array; kid: Uint8Array }[];
}> {
  const authorityPublicKey = await pinnedAuthorityKey(ctx, opts);
  const target = directoryLocationOf(ctx, {
    ...(opts.directoryFile === undefined ? {} : { directoryFile: opts.directoryFile }),
    ...(opts.directoryTopic === undefined ? {} : { topic: opts.directoryTopic }),
  });
  const records = await withLocation(
    target,
    async (location) => {
      const source =
        location.kind === 'file' ? new FileDirectorySource(location.path) : location.topic;
      const directory = await KeyDirectory.open({
        crypto: ctx.crypto,
        clock: ctx.clock,
        authorityPublicKey,
        source,
      });
      return directory.records().filter((r) => r.identity === opts.auditIdentity);
    },
    ctx,
  );
  if (records.length === 0) {
    throw badInput(
      `the directory has no record for identity "${opts.auditIdentity}" — pass --audit-identity NAME (the audit worker's SEALPOST_IDENTITY)`,
    );
  }
  const latest = [...checkpoints].sort((a, b) => b.timeMs - a.timeMs || b.count - a.count)[0];
  const chosen =
    (latest === undefined
      ? undefined
      : records.find((r) => ctx.crypto.equalConstantTime(r.signKid, latest.signerKid))) ??
    records.find((r) => r.status === 'active') ??
    records[records.length - 1]!;
  const all = [...records]
    .sort((a, b) => a.validFromMs - b.validFromMs || a.serial - b.serial)
    .map((r) => ({ publicKey: r.signPublicKey, kid: r.signKid }));
  return { publicKey: chosen.signPublicKey, kid: chosen.signKid, status: chosen.status, all };
}

/** What to verify: the `audit verify` options. */
export interface AuditVerifyOptions {
  readonly auditIdentity: string;
  readonly authorityKey?: string;
  readonly authority?: string;
  readonly directoryFile?: string;
  readonly directoryTopic?: string;
  /** Default SEALPOST_CHECKPOINT_TOPIC. */
  readonly checkpointTopic?: string;
  /** Also read the published checkpoints (false: the store alone, offline; weaker). */
  readonly published: boolean;
  readonly timeoutMs: number;
  readonly origin?: string;
  /** A metadata partition's log only (text, as given on the command line). */
  readonly partition?: string;
}

/** One log's report (see {@link verifyConfiguredAuditLogs}). */
export type AuditLogVerifyReport = Awaited<ReturnType<typeof verifyAuditLog>> & {
  readonly partition: number | null;
  readonly origin: string;
  readonly ok: boolean;
  readonly chainOk: boolean;
  readonly storedCheckpoints: number;
  readonly publishedCheckpoints: number | null;
  readonly latestPublishedCount: number | null;
  readonly tlogCheckpoints: TlogVerifyReport | null;
};

/** The whole result, as `audit verify --json` prints it (with one log, its report at the top too). */
export type AuditVerifyResult = Partial<AuditLogVerifyReport> & {
  readonly ok: boolean;
  readonly auditIdentity: string;
  readonly auditKid: string;
  readonly malformedPublished: readonly string[];
  readonly logs: readonly AuditLogVerifyReport[];
  readonly missingLogs: readonly string[];
};

/**
 * Recomputes each configured log's hash chain, checks every checkpoint (stored and, unless
 * `published` is false, published) and that the log extends them. A bad log is not an error: the
 * result says `ok: false` and names the first bad index.
 */
export async function verifyConfiguredAuditLogs(
  ctx: CliContext,
  opts: AuditVerifyOptions,
): Promise<AuditVerifyResult> {
  const timeoutMs = opts.timeoutMs;
  const opened = await openAuditLogsFromOptions(ctx, opts);
  const { logs } = opened;
  try {
    return await withHints(ctx.config, async () => {
      let published: AuditCheckpoint[] = [];
      let malformed: string[] = [];
      let notes: string[] = [];
      const checkpointTopic = opts.checkpointTopic ?? ctx.config.checkpointTopic;
      if (opts.published) {
        await assertTopicExists(
          ctx,
          checkpointTopic,
          "set SEALPOST_CHECKPOINT_TOPIC (or --checkpoint-topic) to the audit worker's, or pass --no-published to check the store alone",
        );
        const groupId = `sealpost-audit-verify-${hex(ctx.crypto.randomBytes(6))}`;
        ({
          checkpoints: published,
          malformed,
          notes,
        } = await readPublishedCheckpoints(
          cliTransport(ctx, 'sealpost-audit-verify'),
          checkpointTopic,
          { groupId, timeoutMs },
        ));
      }
      const stored = (await Promise.all(logs.map((l) => l.store.checkpoints()))).flat();
      const signer = await auditSigner(ctx, opts, [...stored, ...published]);
      const results = await Promise.all(
        logs.map(async (log) => {
          const logStored = await log.store.checkpoints();
          // Binary checkpoints were published only for the single log of before (docs/AUDIT.md).
          const logPublished = log.partition === null ? published : [];
          const all = [...logStored, ...logPublished];
          const report = await verifyAuditLog(ctx.crypto, log.store.entries(), all, signer.all);
          // The published C2SP checkpoints of this log: every consecutive pair joined by a
          // consistency proof, the newest one the stored log's head at its size, the signing key
          // never going back to an older one (docs/AUDIT.md).
          const tlog: TlogVerifyReport | null = opts.published
            ? verifyTlogCheckpoints(
                ctx.crypto,
                await auditLeafHashes(ctx.crypto, log.store.entries()),
                notes,
                log.origin,
                signer.all.map((k) => k.publicKey),
              )
            : null;
          const latestPublished = logPublished.reduce<AuditCheckpoint | undefined>(
            (m, c) => (m === undefined || c.count > m.count ? c : m),
            undefined,
          );
          return {
            partition: log.partition,
            origin: log.origin,
            ...report,
            ok: report.ok && (tlog === null || tlog.ok),
            chainOk: report.ok,
            storedCheckpoints: logStored.length,
            publishedCheckpoints: opts.published ? logPublished.length : null,
            latestPublishedCount: latestPublished?.count ?? null,
            tlogCheckpoints: tlog,
          };
        }),
      );
      // A log whose checkpoints were published but that no store here holds.
      const held = new Set(logs.map((l) => l.origin));
      const missingLogs =
        opts.partition === undefined && opts.origin === undefined
          ? [...new Set(notes.map((n) => n.slice(0, n.indexOf('\n'))))].filter((origin) => {
              const log = parseAuditLogOrigin(origin);
              return (
                log !== undefined &&
                log.cluster === ctx.config.clusterName &&
                log.topic === ctx.config.metadataTopic &&
                !held.has(origin)
              );
            })
          : [];
      const ok = results.every((r) => r.ok) && missingLogs.length === 0;
      const single = results.length === 1 ? results[0] : undefined;
      // With one log, its report at the top level too (as before per-partition logs).
      return {
        ...(single ?? {}),
        ok,
        auditIdentity: opts.auditIdentity,
        auditKid: hex(signer.kid),
        malformedPublished: malformed,
        logs: results,
        missingLogs,
      };
    });
  } finally {
    await opened.close();
  }
}

/** The text `audit verify` prints for `result`. */
export function auditVerifyText(
  result: AuditVerifyResult,
  opts: { readonly published: boolean; readonly checkpointTopic: string },
): string {
  const { checkpointTopic } = opts;
  const lines = result.logs.map((r) => {
    const name = r.partition === null ? `log ${r.origin}` : `log ${r.partition} (${r.origin})`;
    const head = r.chainOk
      ? `audit log OK: ${r.count} entries, ${r.checkpointsVerified} checkpoints verified (${r.storedCheckpoints} stored, ${opts.published ? `${r.publishedCheckpoints ?? 0} binary published on ${checkpointTopic}` : 'published not checked: --no-published'}) — ${name}\n`
      : `audit log NOT OK: first bad index ${r.firstBadIndex ?? '?'} (${r.problem ?? 'unknown'}${r.detail === undefined ? '' : `: ${r.detail}`}); ${r.count} entries read — ${name}\n`;
    const t = r.tlogCheckpoints;
    const tlogLine =
      t === null
        ? ''
        : t.ok
          ? `C2SP checkpoints OK: ${t.checkpoints} published, ${t.consistentPairs} consecutive pairs consistent${t.keyIds !== undefined && t.keyIds.length > 1 ? `, signed by keys ${t.keyIds.join(' then ')}` : ''}\n`
          : `C2SP checkpoints NOT OK: ${t.problem ?? 'unknown'}${t.detail === undefined ? '' : `: ${t.detail}`}\n`;
    return head + tlogLine;
  });
  const missing = result.missingLogs.map(
    (o) => `audit log MISSING: checkpoints of ${o} are published but no store here holds it\n`,
  );
  const warn =
    result.malformedPublished.length > 0
      ? `warning: ${result.malformedPublished.length} records on ${checkpointTopic} are not checkpoints (${result.malformedPublished.slice(0, 5).join(', ')})\n`
      : '';
  return lines.join('') + missing.join('') + warn;
}
