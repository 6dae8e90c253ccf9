import { Option, type Command } from 'commander';
import type { AuditCheckpoint } from '../audit/audit-checkpoint.js';
import type { AuditQuery, StoredAuditEvent } from '../audit/audit-store.js';
import { readPublishedCheckpoints } from '../audit/checkpoint-topic.js';
import { verifyAuditLog } from '../audit/verify-audit-log.js';
import {
  auditLeafHashes,
  parseAuditLogOrigin,
  verifyTlogCheckpoints,
  type TlogVerifyReport,
} from '../audit/audit-tlog.js';
import { openAuditLogs } from './audit-logs.js';
import { registerAuditProveCommands, withAuditKeyOptions } from './audit-prove-commands.js';
import { METADATA_EVENT_TYPES } from '../events/metadata-event.js';
import { FileDirectorySource } from '../keys/directory/directory-document.js';
import { KeyDirectory } from '../keys/directory/key-directory.js';
import {
  assertTopicExists,
  badInput,
  cliContext,
  cliTransport,
  iso,
  parseCount,
  parseDuration,
  parseTime,
  print,
  table,
  withHints,
  type CliContext,
} from './cli-support.js';
import { directoryLocationOf, pinnedAuthorityKey, withLocation } from './directory-commands.js';
import { CliExit } from './program.js';
import { EXIT, formatJson, type CliIo } from './output.js';

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

/** One table row per stored event (metadata only: events never carry payloads). */
function eventRow(e: StoredAuditEvent): Record<string, unknown> {
  const v = e.event;
  return {
    index: e.index,
    time: iso(v.timeMs),
    type: v.type,
    actor: v.actor,
    sender: v.sender,
    topic: v.topic,
    partition: v.partition,
    offset: v.offset,
    messageId: v.messageId,
    reason: v.reason,
  };
}

interface VerifyOpts {
  auditIdentity: string;
  authorityKey?: string;
  authority?: string;
  directoryFile?: string;
  directoryTopic?: string;
  checkpointTopic?: string;
  published: boolean;
  timeout: string;
  origin?: string;
  partition?: string;
  json?: boolean;
}

/** `sealpost audit …`: verify the tamper-evident log, query it, follow it. */
export function registerAuditCommands(program: Command, io: CliIo): void {
  const audit = program
    .command('audit')
    .description('The audit log (SEALPOST_AUDIT_DB): verify, query, tail')
    .addHelpText('after', '\nExample:\n  sealpost audit verify && sealpost audit tail -n 20');

  withAuditKeyOptions(
    audit
      .command('verify')
      .description(
        'Recompute the hash chain, check every checkpoint (stored and published) and that the log extends them; exit 1 at the first bad entry',
      ),
  )
    .option(
      '--checkpoint-topic <topic>',
      'published checkpoints (default SEALPOST_CHECKPOINT_TOPIC)',
    )
    .option(
      '--no-published',
      'skip the published checkpoints (offline; weaker: a rewritten store and its stored checkpoints go unnoticed)',
    )
    .option('--timeout <duration>', 'how long to read the checkpoint topic', '30s')
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost audit verify --directory-file .sealpost/directory.json || echo "audit log tampered"',
    )
    .action(async (opts: VerifyOpts) => {
      const ctx = await cliContext(io);
      const timeoutMs = parseDuration(opts.timeout, '--timeout');
      const partition =
        opts.partition === undefined ? undefined : parseCount(opts.partition, '--partition');
      const opened = await openAuditLogs(ctx, {
        ...(partition === undefined ? {} : { partition }),
        ...(opts.origin === undefined ? {} : { origin: opts.origin }),
      });
      const { logs } = opened;
      try {
        await withHints(ctx.config, async () => {
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
            partition === undefined && opts.origin === undefined
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
          const result = {
            // With one log, its report at the top level too (as before per-partition logs).
            ...(single ?? {}),
            ok,
            auditIdentity: opts.auditIdentity,
            auditKid: hex(signer.kid),
            malformedPublished: malformed,
            logs: results,
            missingLogs,
          };
          print(io, opts.json, result, () => {
            const lines = results.map((r) => {
              const name =
                r.partition === null ? `log ${r.origin}` : `log ${r.partition} (${r.origin})`;
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
            const missing = missingLogs.map(
              (o) =>
                `audit log MISSING: checkpoints of ${o} are published but no store here holds it\n`,
            );
            const warn =
              malformed.length > 0
                ? `warning: ${malformed.length} records on ${checkpointTopic} are not checkpoints (${malformed.slice(0, 5).join(', ')})\n`
                : '';
            return lines.join('') + missing.join('') + warn;
          });
          if (!ok) throw new CliExit(EXIT.FAILED);
        });
      } finally {
        await opened.close();
      }
    });

  registerAuditProveCommands(audit, io);

  audit
    .command('query')
    .description('Find audit events by message id, sender, topic, type and time range')
    .option('--message-id <hex>', 'message id (32 hex)')
    .option('--sender <identity>', 'sending identity (for sealed events: the producer that sealed)')
    .option('--topic <topic>', 'topic')
    .addOption(new Option('--type <type>', 'event type').choices(METADATA_EVENT_TYPES))
    .option('--since <time>', 'ISO time or a duration ago (1h, 7d)')
    .option('--until <time>', 'ISO time or a duration ago')
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost audit query --topic orders --type rejected --since 1h --json',
    )
    .action(
      async (opts: {
        messageId?: string;
        sender?: string;
        topic?: string;
        type?: string;
        since?: string;
        until?: string;
        limit: string;
        json?: boolean;
      }) => {
        const ctx = await cliContext(io);
        const filter: { -readonly [K in keyof AuditQuery]: AuditQuery[K] } = {
          limit: parseCount(opts.limit, '--limit', 100_000),
        };
        if (opts.messageId !== undefined) {
          if (!/^[0-9a-f]{32}$/.test(opts.messageId))
            throw badInput('--message-id must be 32 lowercase hex characters');
          filter.messageId = opts.messageId;
        }
        if (opts.sender !== undefined) filter.sender = opts.sender;
        if (opts.topic !== undefined) filter.topic = opts.topic;
        if (opts.type !== undefined) filter.type = opts.type;
        if (opts.since !== undefined) filter.fromMs = parseTime(opts.since, '--since', ctx.clock);
        if (opts.until !== undefined) filter.toMs = parseTime(opts.until, '--until', ctx.clock);
        if (filter.fromMs !== undefined && filter.toMs !== undefined && filter.fromMs > filter.toMs)
          throw badInput('--since is after --until');
        if (
          opts.sender !== undefined &&
          (opts.type === 'rejected' || opts.type === 'dead_lettered')
        )
          io.err(
            `note: ${opts.type} events name a sender only when the consumer attributed the record to one (a refused record's sender is not verified); to see every one, query by --topic and time\n`,
          );
        const opened = await openAuditLogs(ctx);
        const { logs } = opened;
        try {
          // Every log (one per metadata partition), merged by event time.
          const events = (await Promise.all(logs.map((l) => l.store.query(filter))))
            .flat()
            .sort((a, b) => a.event.timeMs - b.event.timeMs)
            .slice(0, filter.limit);
          print(io, opts.json, events, () => table(events.map(eventRow)));
        } finally {
          await opened.close();
        }
      },
    );

  audit
    .command('tail')
    .description('Print the last N events; with --follow, keep printing new ones until Ctrl-C')
    .option('-n, --lines <n>', 'how many of the latest events', '20')
    .option('-f, --follow', 'poll for new events')
    .option('--interval <duration>', 'poll interval with --follow', '1s')
    .option('--json', 'one JSON object per line')
    .addHelpText('after', '\nExample:\n  sealpost audit tail -n 50 --follow')
    .action(async (opts: { lines: string; follow?: boolean; interval: string; json?: boolean }) => {
      const ctx = await cliContext(io);
      const lines = parseCount(opts.lines, '--lines', 100_000);
      const intervalMs = parseDuration(opts.interval, '--interval');
      if (intervalMs < 50) throw badInput('--interval must be at least 50ms');
      const opened = await openAuditLogs(ctx);
      const { logs } = opened;
      const emit = (events: readonly StoredAuditEvent[], first: boolean): void => {
        if (opts.json === true)
          for (const e of events) io.out(formatJson(e).replace(/\n\s*/g, ' ').trim() + '\n');
        else if (events.length > 0 || first)
          io.out(
            first
              ? table(events.map(eventRow))
              : table(events.map(eventRow)).split('\n').slice(1).join('\n'),
          );
      };
      // Every log (one per metadata partition), merged by event time.
      const byTime = (a: StoredAuditEvent, b: StoredAuditEvent): number =>
        a.event.timeMs - b.event.timeMs;
      try {
        const last: number[] = [];
        for (const l of logs) last.push((await l.store.head()).count - 1);
        const initial =
          lines === 0
            ? []
            : (
                await Promise.all(
                  logs.map((l, i) => l.store.query({ afterIndex: last[i]! - lines, limit: lines })),
                )
              )
                .flat()
                .sort(byTime)
                .slice(-lines);
        emit(initial, true);
        const aborted = (): boolean => io.signal?.aborted === true;
        while (opts.follow === true && !aborted()) {
          await sleep(intervalMs, io.signal);
          if (aborted()) break;
          const next: StoredAuditEvent[] = [];
          for (const [i, l] of logs.entries()) {
            const got = await l.store.query({ afterIndex: last[i]!, limit: 10_000 });
            if (got.length > 0) last[i] = got[got.length - 1]!.index;
            next.push(...got);
          }
          if (next.length > 0) emit(next.sort(byTime), false);
        }
      } finally {
        await opened.close();
      }
    });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
