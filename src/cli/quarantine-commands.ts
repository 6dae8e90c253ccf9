import { userInfo } from 'node:os';
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { openServiceKeys } from '../app/compose.js';
import { releaseQuarantined, type ReleaseResult } from '../dlq/quarantine-release.js';
import { ReleaseSigner } from '../dlq/release-signer.js';
import { DEFAULT_MAX_RELEASE_LIFETIME_MS } from '../pipeline/consumer/release-admission.js';
import {
  QUARANTINE_REASONS,
  type QuarantineEntry,
  type QuarantineFilter,
  type QuarantineReason,
  type QuarantineStatus,
  type QuarantineStore,
} from '../dlq/quarantine-store.js';
import { openConfiguredQuarantineStore } from '../stores/open-stores.js';
import { isSealpostError } from '../errors.js';
import {
  badInput,
  cliContext,
  cliTransport,
  iso,
  parseCount,
  parseDuration,
  print,
  table,
  withHints,
  type CliContext,
} from './cli-support.js';
import { keyValueLines, structureLines, viewEnvelope } from './inspect-commands.js';
import { kmsOption, withKms } from './keys-commands.js';
import { CliExit } from './program.js';
import { EXIT, type CliIo } from './output.js';

const reasonOption = (what: string): Option =>
  new Option('--reason <reason>', what).choices(QUARANTINE_REASONS);
const statusOption = (defaultStatus: 'quarantined' | 'all'): Option =>
  new Option('--status <status>', 'quarantined, released or all')
    .choices(['quarantined', 'released', 'all'])
    .default(defaultStatus);

/**
 * Opens the configured quarantine store (SEALPOST_QUARANTINE_DB, or PostgreSQL with
 * SEALPOST_STORE=postgres); refuses to create a new, empty SQLite file.
 */
export async function openStore(ctx: CliContext): Promise<QuarantineStore> {
  const path = ctx.config.quarantineDb;
  if (ctx.config.store === 'sqlite' && !existsSync(path)) {
    throw badInput(
      `no quarantine store at ${path} — set SEALPOST_QUARANTINE_DB to the dead-letter worker's store (\`npm run worker:dlq\` creates it)`,
    );
  }
  return openConfiguredQuarantineStore(ctx.config);
}

async function withStore<T>(
  io: CliIo,
  body: (store: QuarantineStore, ctx: CliContext) => Promise<T> | T,
  overrides: Record<string, string | undefined> = {},
): Promise<T> {
  const ctx = await cliContext(io, overrides);
  const store = await openStore(ctx);
  try {
    return await withHints(ctx.config, async () => body(store, ctx));
  } finally {
    await store.close();
  }
}

/** One listing row (metadata only: no key or value bytes). */
function entryRow(e: QuarantineEntry, nowMs: number): Record<string, unknown> {
  return {
    id: e.id,
    reason: e.reason,
    status: e.status,
    topic: e.sourceTopic,
    partition: e.sourcePartition,
    offset: e.sourceOffset,
    group: e.consumerGroup,
    attempt: e.attempt,
    verified: e.signatureVerified,
    bytes: e.value === null ? null : e.value.length,
    arrived: iso(e.arrivedAtMs),
    age: ageText(nowMs - e.arrivedAtMs),
    note: e.requarantinedFrom === null ? '' : `requarantined from ${e.requarantinedFrom}`,
  };
}

function ageText(ms: number): string {
  if (ms < 0) return '0s';
  if (ms < 120_000) return `${Math.floor(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.floor(ms / 60_000)}m`;
  if (ms < 172_800_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.floor(ms / 86_400_000)}d`;
}

/** Everything stored about an entry except the record's key and value bytes. */
export function entryMetadata(e: QuarantineEntry): Record<string, unknown> {
  return {
    id: e.id,
    status: e.status,
    reason: e.reason,
    signatureVerified: e.signatureVerified,
    dlqTopic: e.dlqTopic,
    dlqPartition: e.dlqPartition,
    dlqOffset: e.dlqOffset,
    sourceTopic: e.sourceTopic,
    sourcePartition: e.sourcePartition,
    sourceOffset: e.sourceOffset,
    sourceTimestamp: e.sourceTimestamp,
    consumerGroup: e.consumerGroup,
    consumer: e.consumer,
    attempt: e.attempt,
    arrivedAt: iso(e.arrivedAtMs),
    releasedAt: iso(e.releasedAtMs),
    releasedTo: e.releasedTo,
    releasedBy: e.releasedBy,
    requarantinedFrom: e.requarantinedFrom,
    keyBytes: e.key === null ? null : e.key.length,
    valueBytes: e.value === null ? null : e.value.length,
    valueHash: e.valueHash,
    headers: e.headers.map((h) => ({
      key: h.key,
      valueBytes: h.value === null ? null : Buffer.from(h.value, 'base64').length,
    })),
  };
}

function filterOf(
  ctx: CliContext,
  opts: {
    reason?: string;
    topic?: string;
    olderThan?: string;
    status?: string;
    limit?: string;
    afterId?: string;
  },
): QuarantineFilter {
  const filter: { -readonly [K in keyof QuarantineFilter]: QuarantineFilter[K] } = {};
  if (opts.reason !== undefined) filter.reason = opts.reason as QuarantineReason;
  if (opts.topic !== undefined) filter.sourceTopic = opts.topic;
  if (opts.olderThan !== undefined)
    filter.arrivedBeforeMs = ctx.clock.nowMs() - parseDuration(opts.olderThan, '--older-than');
  if (opts.status !== undefined && opts.status !== 'all')
    filter.status = opts.status as QuarantineStatus;
  if (opts.limit !== undefined) filter.limit = parseCount(opts.limit, '--limit', 100_000);
  if (opts.afterId !== undefined)
    filter.afterId = parseCount(opts.afterId, '--after-id', Number.MAX_SAFE_INTEGER);
  return filter;
}

function parseId(text: string): number {
  const id = parseCount(text, 'ID', Number.MAX_SAFE_INTEGER);
  if (id < 1)
    throw badInput(`ID: "${text}" must be a positive integer (see \`sealpost quarantine list\`)`);
  return id;
}

/**
 * Runs `body` with a release signer for the operator identity (SEALPOST_IDENTITY_FILE, unwrapped by the
 * configured KMS, and the directory), or with none for `--raw`. The keys are zeroed afterwards.
 */
export async function withReleaseSigner(
  ctx: CliContext,
  raw: boolean,
  validForMs: number,
  body: (signer: ReleaseSigner | undefined) => Promise<void>,
): Promise<void> {
  if (raw) return body(undefined);
  if (ctx.config.identityFile === undefined)
    throw badInput(
      'a release is signed by an operator identity: set SEALPOST_IDENTITY_FILE or pass --identity FILE (an identity the directory grants release=TOPIC); --raw re-publishes unsigned',
    );
  await withKms(ctx, async (kms) => {
    const service = await openServiceKeys(ctx.config, {
      crypto: ctx.crypto,
      clock: ctx.clock,
      kms,
    });
    try {
      await body(
        new ReleaseSigner({
          crypto: ctx.crypto,
          clock: ctx.clock,
          identity: service.identity,
          directory: service.directory,
          validForMs,
        }),
      );
    } finally {
      service.close();
    }
  });
}

/** A name recorded as who released an entry: 1–200 characters, none of them a control character. */
function isOperatorName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length >= 1 && name.length <= 200 && !/[\u0000-\u001f\u007f-\u009f]/.test(name);
}

/** The OS user running the CLI (a `--raw` release has no signing identity to name). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `sealpost quarantine …`: look at, release and purge dead letters — never decrypting them. */
export function registerQuarantineCommands(program: Command, io: CliIo): void {
  const quarantine = program
    .command('quarantine')
    .description(
      'Quarantined dead letters (SEALPOST_QUARANTINE_DB): list, show, release, purge — never decrypted',
    )
    .addHelpText(
      'after',
      '\nExample:\n  sealpost quarantine list --reason HEADER && sealpost quarantine release 17',
    );

  quarantine
    .command('list')
    .description(
      'List entries still quarantined (metadata only); --status all for released ones too. Says when more match than --limit shows.',
    )
    .addOption(reasonOption('only this reason code'))
    .option('--topic <topic>', 'only records from this source topic')
    .option(
      '--older-than <duration>',
      'only records that arrived longer ago than this (e.g. 1h, 7d)',
    )
    .addOption(statusOption('quarantined'))
    .option('--limit <n>', 'at most this many', '1000')
    .option('--after-id <id>', 'only entries after this id (the next page of a truncated listing)')
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost quarantine list --reason HEADER --older-than 1h\n  sealpost quarantine list --status all --limit 100 --after-id 1200',
    )
    .action(
      (opts: {
        reason?: string;
        topic?: string;
        olderThan?: string;
        status?: string;
        limit: string;
        afterId?: string;
        json?: boolean;
      }) =>
        withStore(io, async (store, ctx) => {
          const filter = filterOf(ctx, opts);
          const limit = filter.limit ?? 1000;
          // One more than asked: tells whether the listing is cut.
          const found = await store.list({ ...filter, limit: limit + 1 });
          const entries = found.slice(0, limit);
          const now = ctx.clock.nowMs();
          print(io, opts.json, entries.map(entryMetadata), () =>
            table(entries.map((e) => entryRow(e, now))),
          );
          if (found.length > limit) {
            const next = entries[entries.length - 1]!.id;
            io.err(
              `more entries match: showing the first ${limit}; next page: the same command with --after-id ${next}\n`,
            );
          }
        }),
    );

  quarantine
    .command('show')
    .description(
      "All metadata of one entry and its envelope's structure (as `sealpost inspect` shows it)",
    )
    .argument('<id>', 'entry id (from `quarantine list`)')
    .option('--json', 'output as JSON')
    .addHelpText('after', '\nExample:\n  sealpost quarantine show 17')
    .action((idText: string, opts: { json?: boolean }) =>
      withStore(io, async (store) => {
        const id = parseId(idText);
        const e = await store.get(id);
        if (e === undefined)
          throw badInput(
            `no quarantine entry ${id} — see \`sealpost quarantine list --status all\``,
          );
        const meta = entryMetadata(e);
        const view = viewEnvelope(e.value);
        print(io, opts.json, { ...meta, envelope: view }, () => {
          const rows = Object.entries(meta).map(
            ([k, v]): [string, string | number | boolean | null] => [
              k,
              typeof v === 'object' && v !== null
                ? JSON.stringify(v)
                : (v as string | number | boolean | null),
            ],
          );
          return (
            keyValueLines(rows) +
            '\nenvelope:\n' +
            (view.envelope ? structureLines(view.structure) : `${view.reason}\n`)
          );
        });
      }),
    );

  quarantine
    .command('release')
    .description(
      "Publish the original sealed bytes and headers to the source topic (or --to) in a release signed by the operator identity (docs/SPEC.md §11), which the entry's consumer group accepts once even if the record is behind its replay window or horizon; mark released; idempotent",
    )
    .argument('[id]', 'entry id (or use --reason)')
    .addOption(reasonOption('release every quarantined entry with this reason'))
    .option('--to <topic>', 'publish to this topic instead of the source topic')
    .option('--force', 'also release entries that are not verified sealpost dead letters')
    .option(
      '--identity <path>',
      'operator identity file that signs (default SEALPOST_IDENTITY_FILE); the directory must grant it release=TOPIC',
    )
    .addOption(kmsOption())
    .option('--group <group>', "the consumer group that may accept it (default: the entry's group)")
    .option('--valid-for <duration>', 'how long the release may be accepted (max 7d)', '24h')
    .option(
      '--by <name>',
      "who releases, recorded with the entry (quarantine show, the console); default: the signing identity's name, with --raw the OS user",
    )
    .option(
      '--raw',
      'publish the original bytes unchanged, unsigned (only for consumers older than docs/SPEC.md §11: STALE again if the cause was time)',
    )
    .option(
      '--again',
      'with --reason: also release entries that came back after an earlier release (their cause was not fixed)',
    )
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nRuns as SEALPOST_IDENTITY_FILE (or --identity): the operator identity granted release=TOPIC in the directory.\nExample:\n  sealpost quarantine release 17\n  sealpost quarantine release --reason HEADER --valid-for 2h',
    )
    .action(
      (
        idText: string | undefined,
        opts: {
          reason?: string;
          to?: string;
          force?: boolean;
          again?: boolean;
          json?: boolean;
          identity?: string;
          kms?: string;
          group?: string;
          validFor: string;
          raw?: boolean;
          by?: string;
        },
      ) =>
        withStore(
          io,
          async (store, ctx) => {
            if ((idText === undefined) === (opts.reason === undefined))
              throw badInput('give either an entry ID or --reason R');
            type Result =
              | ReleaseResult
              | { id: number; outcome: 'refused'; code: string; message: string }
              | {
                  id: number;
                  outcome: 'skipped';
                  requarantinedFrom: number;
                  attempt: number | null;
                };
            const results: Result[] = [];
            let ids: number[];
            if (idText !== undefined) {
              ids = [parseId(idText)];
              if ((await store.get(ids[0]!)) === undefined)
                throw badInput(
                  `no quarantine entry ${ids[0]!} — see \`sealpost quarantine list --status all\``,
                );
            } else {
              const candidates = await store.list({
                reason: opts.reason as QuarantineReason,
                status: 'quarantined',
                limit: 100_000,
              });
              // An entry that came back after a release was released once for this reason already: its
              // cause is not fixed, and releasing it again would only cycle it. By id, or with --again.
              const again = candidates.filter((e) => e.requarantinedFrom !== null);
              if (opts.again !== true)
                for (const e of again)
                  results.push({
                    id: e.id,
                    outcome: 'skipped',
                    requarantinedFrom: e.requarantinedFrom!,
                    attempt: e.attempt,
                  });
              ids = candidates
                .filter((e) => opts.again === true || e.requarantinedFrom === null)
                .map((e) => e.id);
              if (opts.again !== true && again.length > 0)
                io.err(
                  `skipped ${again.length} entries that came back after an earlier release (ids ${again
                    .slice(0, 10)
                    .map((e) => e.id)
                    .join(
                      ', ',
                    )}${again.length > 10 ? ', …' : ''}): fix their cause, then release them by id or pass --again\n`,
                );
            }
            if (opts.by !== undefined && !isOperatorName(opts.by))
              throw badInput('--by: 1 to 200 printable characters');
            const validForMs = parseDuration(opts.validFor, '--valid-for');
            if (validForMs > DEFAULT_MAX_RELEASE_LIFETIME_MS)
              throw badInput('--valid-for: at most 7d (consumers refuse longer releases)');
            if (ids.length > 0) {
              await withReleaseSigner(ctx, opts.raw === true, validForMs, async (signer) => {
                const producer = cliTransport(ctx, 'sealpost-quarantine-release').producer();
                await producer.connect();
                try {
                  for (const id of ids) {
                    try {
                      results.push(
                        await releaseQuarantined(store, producer, id, {
                          ...(signer === undefined ? {} : { signer }),
                          ...(opts.to === undefined ? {} : { to: opts.to }),
                          ...(opts.group === undefined ? {} : { group: opts.group }),
                          force: opts.force === true,
                          nowMs: ctx.clock.nowMs(),
                          releasedBy: opts.by ?? signer?.operator ?? osUser(),
                        }),
                      );
                    } catch (err) {
                      // One refused entry must not stop the others; transport failures do stop the run.
                      if (isSealpostError(err) && err.code.startsWith('QUARANTINE_')) {
                        results.push({
                          id,
                          outcome: 'refused',
                          code: err.code,
                          message: err.message,
                        });
                      } else {
                        throw err;
                      }
                    }
                  }
                } finally {
                  await producer.disconnect();
                }
              });
            }
            results.sort((a, b) => a.id - b.id);
            print(io, opts.json, results, () => table(results.map((r) => ({ ...r }))));
            if (results.some((r) => r.outcome === 'refused')) throw new CliExit(EXIT.FAILED);
          },
          { SEALPOST_IDENTITY_FILE: opts.identity, SEALPOST_KMS: opts.kms },
        ),
    );

  quarantine
    .command('purge')
    .description(
      'Delete entries (and their bytes) by id, reason or age; asks for confirmation unless --yes',
    )
    .option(
      '--id <id>',
      'this entry (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .addOption(reasonOption('every entry with this reason'))
    .option('--older-than <duration>', 'entries that arrived longer ago than this')
    .addOption(statusOption('all'))
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost quarantine purge --reason MALFORMED --older-than 30d --yes',
    )
    .action(
      (opts: {
        id: string[];
        reason?: string;
        olderThan?: string;
        status?: string;
        yes?: boolean;
        json?: boolean;
      }) =>
        withStore(io, async (store, ctx) => {
          if (opts.id.length === 0 && opts.reason === undefined && opts.olderThan === undefined) {
            throw badInput('say what to purge: --id N, --reason R and/or --older-than D');
          }
          const filtered = await store.list({ ...filterOf(ctx, opts), limit: 100_000 });
          const wanted = new Set(opts.id.map(parseId));
          const targets =
            opts.id.length === 0 ? filtered : filtered.filter((e) => wanted.has(e.id));
          if (targets.length === 0) {
            print(io, opts.json, { purged: 0 }, () => 'nothing matches; nothing purged\n');
            return;
          }
          if (opts.yes !== true) {
            if (io.stdin === undefined || !io.stdin.isTTY) {
              throw badInput(
                `purge would delete ${targets.length} entries: confirm with --yes (standard input is not a terminal)`,
              );
            }
            io.err(
              `purge ${targets.length} entries (ids ${targets
                .slice(0, 10)
                .map((e) => e.id)
                .join(', ')}${targets.length > 10 ? ', …' : ''})? [y/N] `,
            );
            const answer = (await io.stdin.readLine()).trim().toLowerCase();
            if (answer !== 'y' && answer !== 'yes') {
              io.err('nothing purged\n');
              throw new CliExit(EXIT.FAILED);
            }
          }
          const purged = await store.purge(targets.map((e) => e.id));
          print(
            io,
            opts.json,
            { purged, ids: targets.map((e) => e.id) },
            () => `purged ${purged} entries\n`,
          );
        }),
    );
}
