import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { buildDirectorySource } from '../app/compose.js';
import { KafkaDirectoryTopic } from '../keys/directory/directory-topic.js';
import { DEFAULT_HEAD_TTL_MS } from '../keys/directory/directory-signer.js';
import {
  authorityPublicKey,
  publishDirectory,
  refreshDirectoryHead,
  showDirectory,
  verifyDirectory,
  type DirectoryGrant,
  type DirectoryLocation,
  type DirectorySummary,
} from '../keys/operations.js';
import {
  assertTopicExists,
  badInput,
  cliContext,
  iso,
  parseDuration,
  print,
  table,
  withHints,
  type CliContext,
} from './cli-support.js';
import { kmsOption, withKms } from './keys-commands.js';
import { CliExit } from './program.js';
import { EXIT, type CliIo } from './output.js';

/** `--head-ttl` default, as a duration (DEFAULT_HEAD_TTL_MS). */
const DEFAULT_HEAD_TTL = `${DEFAULT_HEAD_TTL_MS / 3_600_000}h`;

/** Where a command reads or writes the directory, before any connection is made. */
export type DirectoryTarget =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'topic'; readonly topic: string };

/** `--directory-file` / `--topic` options, else SEALPOST_DIRECTORY_FILE, else the directory topic. */
export function directoryLocationOf(
  ctx: CliContext,
  opts: { directoryFile?: string; topic?: string },
): DirectoryTarget {
  if (opts.directoryFile !== undefined && opts.topic !== undefined)
    throw badInput('pass either --directory-file or --topic, not both');
  if (opts.directoryFile !== undefined) return { kind: 'file', path: ctx.path(opts.directoryFile) };
  if (opts.topic !== undefined) return { kind: 'topic', topic: opts.topic };
  if (ctx.config.directoryFile !== undefined)
    return { kind: 'file', path: ctx.config.directoryFile };
  return { kind: 'topic', topic: ctx.config.directoryTopic };
}

/** Opens the target as a DirectoryLocation for `body` (a Kafka reader/publisher for a topic), then closes it. */
export async function withLocation<T>(
  target: DirectoryTarget,
  body: (location: DirectoryLocation) => Promise<T>,
  ctx: CliContext,
  options: { ensureTopic?: boolean } = {},
): Promise<T> {
  if (target.kind === 'file') return body(target);
  if (options.ensureTopic !== true) {
    await assertTopicExists(
      ctx,
      target.topic,
      `publish the directory first (\`sealpost directory publish --topic ${target.topic}\`), or use --directory-file / SEALPOST_DIRECTORY_FILE`,
    );
  }
  const source = buildDirectorySource(
    { ...ctx.config, directoryFile: undefined, directoryTopic: target.topic },
    { crypto: ctx.crypto, clock: ctx.clock },
  );
  if (!(source instanceof KafkaDirectoryTopic)) throw new Error('directory topic source expected');
  try {
    if (options.ensureTopic === true) await source.ensureTopic();
    return await body({ kind: 'topic', topic: source });
  } finally {
    await source.close();
  }
}

/** The authority identity file: `--authority`, else `<SEALPOST_KEYS_DIR>/authority.json`. */
export function resolveAuthorityFile(ctx: CliContext, authority: string | undefined): string {
  return authority === undefined ? join(ctx.config.keysDir, 'authority.json') : ctx.path(authority);
}

/**
 * The pinned authority key: `--authority-key HEX`, else SEALPOST_AUTHORITY_PUBLIC_KEY, else the public
 * half of `--authority FILE` (no unwrap).
 */
export async function pinnedAuthorityKey(
  ctx: CliContext,
  opts: { authorityKey?: string; authority?: string },
): Promise<Uint8Array> {
  if (opts.authorityKey !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(opts.authorityKey))
      throw badInput(
        '--authority-key must be 64 lowercase hex characters (the authority Ed25519 public key)',
      );
    return new Uint8Array(Buffer.from(opts.authorityKey, 'hex'));
  }
  if (ctx.config.authorityPublicKey !== undefined)
    return new Uint8Array(Buffer.from(ctx.config.authorityPublicKey, 'hex'));
  if (opts.authority !== undefined)
    return (
      await withHints(ctx.config, () => authorityPublicKey(ctx.path(opts.authority!), ctx.crypto))
    ).publicKey;
  throw badInput(
    'no pinned authority key: set SEALPOST_AUTHORITY_PUBLIC_KEY (printed by `sealpost keys init-authority`), or pass --authority-key HEX or --authority FILE',
  );
}

/**
 * Parses `--grant NAME[:send=t1,t2][:receive=t3][:detokenize=class1,class2][:release=t4]`. NAME is an identity in SEALPOST_KEYS_DIR, or a
 * path to an identity file (contains `/` or ends in `.json`).
 */
export function parseGrant(
  ctx: CliContext,
  spec: string,
  validForMs: number | undefined,
): DirectoryGrant {
  const [who, ...parts] = spec.split(':');
  if (who === undefined || who === '')
    throw badInput(`--grant "${spec}": expected NAME[:send=t1,t2][:receive=t3]`);
  const sendTopics: string[] = [];
  const receiveTopics: string[] = [];
  const detokenizeClasses: string[] = [];
  const releaseTopics: string[] = [];
  for (const part of parts) {
    // `detokenize=card,iban`: the token classes (src/tokenize) the identity is cleared to detokenize.
    const d = /^detokenize=([a-z0-9_,-]*)$/.exec(part);
    if (d !== null) {
      detokenizeClasses.push(...d[1]!.split(',').filter((c) => c.length > 0));
      continue;
    }
    const m = /^(send|receive|release)=([a-zA-Z0-9._,-]*)$/.exec(part);
    if (m === null)
      throw badInput(
        `--grant "${spec}": "${part}" is not send=topics or receive=topics, nor release=topics (topics: [a-zA-Z0-9._-], comma separated)`,
      );
    const topics = m[2]!.split(',').filter((t) => t.length > 0);
    (m[1] === 'send' ? sendTopics : m[1] === 'receive' ? receiveTopics : releaseTopics).push(
      ...topics,
    );
  }
  const identityFile =
    who.includes('/') || who.endsWith('.json')
      ? ctx.path(who)
      : join(ctx.config.keysDir, `${who}.json`);
  if (!existsSync(identityFile))
    throw badInput(
      `--grant "${spec}": no identity file ${identityFile} — create it with \`sealpost keys create ${who}\``,
    );
  return {
    identityFile,
    sendTopics,
    receiveTopics,
    ...(detokenizeClasses.length === 0 ? {} : { detokenizeClasses }),
    ...(releaseTopics.length === 0 ? {} : { releaseTopics }),
    ...(validForMs === undefined ? {} : { validForMs }),
  };
}

/** One table row per directory record. */
export function recordRows(summary: DirectorySummary): Record<string, unknown>[] {
  return summary.records.map((r) => ({
    identity: r.identity,
    serial: r.serial,
    status: r.status,
    signKid: r.signKid,
    boxKid: r.boxKid,
    xwingKid: r.kemKid ?? '',
    validUntil: iso(r.validUntilMs),
    send: r.sendTopics.join(','),
    receive: r.receiveTopics.join(','),
  }));
}

function headLine(s: DirectorySummary): string {
  return `authority ${s.authorityKid}  epoch ${s.epoch}  serial ${s.highestSerial}  issued ${iso(s.issuedAtMs)}  expires ${iso(s.expiresAtMs)}\n`;
}

interface LocationOpts {
  directoryFile?: string;
  topic?: string;
  json?: boolean;
}

/** `sealpost directory …`: publish (sign), show and verify the key directory. */
export function registerDirectoryCommands(program: Command, io: CliIo): void {
  const directory = program
    .command('directory')
    .description('The signed key directory: publish, refresh-head, show, verify')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost directory publish --grant orders:send=orders.v1 && sealpost directory verify',
    );

  directory
    .command('publish')
    .description(
      'Sign a new directory version from identity files and grants (file or compacted topic); re-run before the head expires',
    )
    .option(
      '--grant <spec>',
      'NAME[:send=t1,t2][:receive=t3][:detokenize=c1,c2][:release=t4] (repeatable; release: may sign quarantine releases for these topics)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      '--authority <path>',
      'authority identity file (default <SEALPOST_KEYS_DIR>/authority.json)',
    )
    .option(
      '--directory-file <path>',
      'write to this file (default SEALPOST_DIRECTORY_FILE, else the topic)',
    )
    .option(
      '--topic <topic>',
      'publish to this compacted topic (default SEALPOST_DIRECTORY_TOPIC; created if missing)',
    )
    .option(
      '--head-ttl <duration>',
      'head lifetime: services refuse new sessions after it (re-sign hourly: refresh-head)',
      DEFAULT_HEAD_TTL,
    )
    .option('--valid-for <duration>', 'key validity from creation', '400d')
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost directory publish --directory-file .sealpost/directory.json \\\n    --grant orders:send=orders.v1 --grant billing:receive=orders.v1 --grant audit:receive=sealpost.metadata',
    )
    .action(
      async (
        opts: LocationOpts & {
          grant: string[];
          authority?: string;
          headTtl: string;
          validFor: string;
          kms?: string;
        },
      ) => {
        const ctx = await cliContext(io, { SEALPOST_KMS: opts.kms });
        const headTtlMs = parseDuration(opts.headTtl, '--head-ttl');
        const validForMs = parseDuration(opts.validFor, '--valid-for');
        if (opts.grant.length === 0)
          throw badInput('give at least one --grant NAME:send=topics:receive=topics');
        const grants = opts.grant.map((g) => parseGrant(ctx, g, validForMs));
        const authorityFile = resolveAuthorityFile(ctx, opts.authority);
        const target = directoryLocationOf(ctx, opts);
        if (target.kind === 'file') await mkdir(dirname(target.path), { recursive: true });
        const summary = await withKms(ctx, (kms) =>
          withLocation(
            target,
            (location) =>
              publishDirectory({
                authorityFile,
                kms,
                crypto: ctx.crypto,
                clock: ctx.clock,
                location,
                grants,
                headTtlMs,
              }),
            ctx,
            { ensureTopic: true },
          ),
        );
        const where = target.kind === 'file' ? target.path : `topic ${target.topic}`;
        print(
          io,
          opts.json,
          { location: where, ...summary },
          () => `published to ${where}\n` + headLine(summary) + table(recordRows(summary)),
        );
      },
    );

  directory
    .command('refresh-head')
    .description(
      'Re-sign the head of the published directory (no record change): run hourly, well inside --head-ttl',
    )
    .option(
      '--authority <path>',
      'authority identity file (default <SEALPOST_KEYS_DIR>/authority.json)',
    )
    .option(
      '--directory-file <path>',
      'the directory file (default SEALPOST_DIRECTORY_FILE, else the topic)',
    )
    .option('--topic <topic>', 'the directory topic (default SEALPOST_DIRECTORY_TOPIC)')
    .option('--head-ttl <duration>', 'lifetime of the new head', DEFAULT_HEAD_TTL)
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost directory refresh-head --topic sealpost.directory   # hourly, e.g. cron `0 * * * *`',
    )
    .action(async (opts: LocationOpts & { authority?: string; headTtl: string; kms?: string }) => {
      const ctx = await cliContext(io, { SEALPOST_KMS: opts.kms });
      const headTtlMs = parseDuration(opts.headTtl, '--head-ttl');
      const authorityFile = resolveAuthorityFile(ctx, opts.authority);
      const target = directoryLocationOf(ctx, opts);
      const summary = await withHints(ctx.config, () =>
        withKms(ctx, (kms) =>
          withLocation(
            target,
            (location) =>
              refreshDirectoryHead({
                authorityFile,
                kms,
                crypto: ctx.crypto,
                clock: ctx.clock,
                location,
                headTtlMs,
              }),
            ctx,
          ),
        ),
      );
      const where = target.kind === 'file' ? target.path : `topic ${target.topic}`;
      print(
        io,
        opts.json,
        { location: where, ...summary },
        () => `head re-signed in ${where}\n` + headLine(summary),
      );
    });

  withReaderOptions(
    directory
      .command('show')
      .description('Validate the directory against the pinned authority key and list its records'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  sealpost directory show --directory-file .sealpost/directory.json --json',
    )
    .action(async (opts: LocationOpts & { authorityKey?: string; authority?: string }) => {
      const ctx = await cliContext(io);
      const key = await pinnedAuthorityKey(ctx, opts);
      const target = directoryLocationOf(ctx, opts);
      const summary = await withHints(ctx.config, () =>
        withLocation(
          target,
          (location) =>
            showDirectory({
              location,
              authorityPublicKey: key,
              crypto: ctx.crypto,
              clock: ctx.clock,
            }),
          ctx,
        ),
      );
      print(
        io,
        opts.json,
        summary,
        () =>
          headLine(summary) +
          table(recordRows(summary)) +
          (summary.refused.length > 0 ? `${summary.refused.length} entries refused\n` : ''),
      );
    });

  withReaderOptions(
    directory
      .command('verify')
      .description(
        'Check every signature, the head and each record; exit 1 when anything is refused',
      ),
  )
    .addHelpText(
      'after',
      '\nExample:\n  sealpost directory verify --topic sealpost.directory && echo trusted',
    )
    .action(async (opts: LocationOpts & { authorityKey?: string; authority?: string }) => {
      const ctx = await cliContext(io);
      const key = await pinnedAuthorityKey(ctx, opts);
      const target = directoryLocationOf(ctx, opts);
      const r = await withHints(ctx.config, () =>
        withLocation(
          target,
          (location) =>
            verifyDirectory({
              location,
              authorityPublicKey: key,
              crypto: ctx.crypto,
              clock: ctx.clock,
            }),
          ctx,
        ),
      );
      if (r.ok) {
        print(
          io,
          opts.json,
          {
            ok: true,
            epoch: r.summary.epoch,
            highestSerial: r.summary.highestSerial,
            records: r.summary.records.length,
            expiresAtMs: r.summary.expiresAtMs,
          },
          () => `directory OK: ${r.summary.records.length} records\n` + headLine(r.summary),
        );
        return;
      }
      print(
        io,
        opts.json,
        r,
        () =>
          `directory NOT OK: ${r.code} — ${r.message}\n` +
          (r.refused.length > 0 ? table(r.refused.map((x) => ({ ...x }))) : ''),
      );
      throw new CliExit(EXIT.FAILED);
    });
}

/** The options `show` and `verify` share: the pinned authority key, where to read, output format. */
function withReaderOptions(command: Command): Command {
  return command
    .option(
      '--authority-key <hex>',
      'pinned authority public key (default SEALPOST_AUTHORITY_PUBLIC_KEY)',
    )
    .option('--authority <path>', 'or: read the public key from this authority file')
    .option(
      '--directory-file <path>',
      'read this file (default SEALPOST_DIRECTORY_FILE, else the topic)',
    )
    .option('--topic <topic>', 'read this topic (default SEALPOST_DIRECTORY_TOPIC)')
    .option('--json', 'output as JSON');
}
