import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { AuditCheckpoint } from '../audit/audit-checkpoint.js';
import type { AuditQuery, StoredAuditEvent } from '../audit/audit-store.js';
import { readPublishedCheckpoints } from '../audit/checkpoint-topic.js';
import type { AuditStore } from '../audit/audit-store.js';
import { openConfiguredAuditStore } from '../stores/open-stores.js';
import { verifyAuditLog } from '../audit/verify-audit-log.js';
import {
  auditLeafHashes,
  defaultAuditOrigin,
  verifyTlogCheckpoints,
  type TlogVerifyReport,
} from '../audit/audit-tlog.js';
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

/**
 * Opens the configured audit store (SEALPOST_AUDIT_DB, or PostgreSQL with SEALPOST_STORE=postgres);
 * refuses to create a new, empty SQLite file.
 */
export async function openAuditStore(ctx: CliContext): Promise<AuditStore> {
  const path = ctx.config.auditDb;
  if (ctx.config.store === 'sqlite' && !existsSync(path)) {
    throw badInput(
      `no audit store at ${path} — set SEALPOST_AUDIT_DB to the audit worker's store (\`npm run worker:audit\` creates it)`,
    );
  }
  return openConfiguredAuditStore(ctx.config, ctx.crypto);
}

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
): Promise<{ publicKey: Uint8Array; kid: Uint8Array; status: string }> {
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
  return { publicKey: chosen.signPublicKey, kid: chosen.signKid, status: chosen.status };
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
      const store = await openAuditStore(ctx);
      try {
        await withHints(ctx.config, async () => {
          const stored = await store.checkpoints();
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
          const all = [...stored, ...published];
          const signer = await auditSigner(ctx, opts, all);
          const report = await verifyAuditLog(
            ctx.crypto,
            store.entries(),
            all,
            signer.publicKey,
            signer.kid,
          );
          // The published C2SP checkpoints: every consecutive pair joined by a consistency proof,
          // the newest one the stored log's head at its size (docs/AUDIT.md).
          const tlog: TlogVerifyReport | null = opts.published
            ? verifyTlogCheckpoints(
                ctx.crypto,
                await auditLeafHashes(ctx.crypto, store.entries()),
                notes,
                opts.origin ?? defaultAuditOrigin(ctx.config.metadataTopic),
                signer.publicKey,
              )
            : null;
          const latestPublished = published.reduce<AuditCheckpoint | undefined>(
            (m, c) => (m === undefined || c.count > m.count ? c : m),
            undefined,
          );
          const result = {
            ...report,
            auditIdentity: opts.auditIdentity,
            auditKid: hex(signer.kid),
            storedCheckpoints: stored.length,
            publishedCheckpoints: opts.published ? published.length : null,
            malformedPublished: malformed,
            latestPublishedCount: latestPublished?.count ?? null,
            tlogCheckpoints: tlog,
          };
          print(io, opts.json, result, () => {
            const head = report.ok
              ? `audit log OK: ${report.count} entries, ${report.checkpointsVerified} checkpoints verified (${stored.length} stored, ${opts.published ? `${published.length} published on ${checkpointTopic}` : 'published not checked: --no-published'})\n`
              : `audit log NOT OK: first bad index ${report.firstBadIndex ?? '?'} (${report.problem ?? 'unknown'}${report.detail === undefined ? '' : `: ${report.detail}`}); ${report.count} entries read\n`;
            const warn =
              malformed.length > 0
                ? `warning: ${malformed.length} records on ${checkpointTopic} are not checkpoints (${malformed.slice(0, 5).join(', ')})\n`
                : '';
            const tlogLine =
              tlog === null
                ? ''
                : tlog.ok
                  ? `C2SP checkpoints OK: ${tlog.checkpoints} published, ${tlog.consistentPairs} consecutive pairs consistent\n`
                  : `C2SP checkpoints NOT OK: ${tlog.problem ?? 'unknown'}${tlog.detail === undefined ? '' : `: ${tlog.detail}`}\n`;
            return head + tlogLine + warn;
          });
          if (!report.ok || (tlog !== null && !tlog.ok)) throw new CliExit(EXIT.FAILED);
        });
      } finally {
        await store.close();
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
        const store = await openAuditStore(ctx);
        try {
          const events = await store.query(filter);
          print(io, opts.json, events, () => table(events.map(eventRow)));
        } finally {
          await store.close();
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
      const store = await openAuditStore(ctx);
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
      try {
        const { count } = await store.head();
        const initial =
          lines === 0 ? [] : await store.query({ afterIndex: count - lines - 1, limit: lines });
        emit(initial, true);
        let last = count - 1;
        const aborted = (): boolean => io.signal?.aborted === true;
        while (opts.follow === true && !aborted()) {
          await sleep(intervalMs, io.signal);
          if (aborted()) break;
          const next = await store.query({ afterIndex: last, limit: 10_000 });
          if (next.length > 0) {
            emit(next, false);
            last = next[next.length - 1]!.index;
          }
        }
      } finally {
        await store.close();
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
