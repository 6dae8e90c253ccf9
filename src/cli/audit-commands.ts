import { Option, type Command } from 'commander';
import type { AuditQuery, StoredAuditEvent } from '../audit/audit-store.js';
import { openAuditLogs } from './audit-logs.js';
import { auditVerifyText, verifyConfiguredAuditLogs } from './audit-verify.js';
import { registerAuditProveCommands, withAuditKeyOptions } from './audit-prove-commands.js';
import { METADATA_EVENT_TYPES } from '../events/metadata-event.js';
import {
  badInput,
  cliContext,
  iso,
  parseCount,
  parseDuration,
  parseTime,
  print,
  table,
} from './cli-support.js';
import { CliExit } from './program.js';
import { EXIT, formatJson, type CliIo } from './output.js';

export { auditSigner } from './audit-verify.js';

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
      const result = await verifyConfiguredAuditLogs(ctx, {
        ...opts,
        timeoutMs: parseDuration(opts.timeout, '--timeout'),
      });
      print(io, opts.json, result, () =>
        auditVerifyText(result, {
          published: opts.published,
          checkpointTopic: opts.checkpointTopic ?? ctx.config.checkpointTopic,
        }),
      );
      if (!result.ok) throw new CliExit(EXIT.FAILED);
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
