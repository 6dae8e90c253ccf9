import type { Command } from 'commander';
import { auditLogOrigin, defaultAuditOrigin } from '../audit/audit-tlog.js';
import { readPublishedCheckpoints } from '../audit/checkpoint-topic.js';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  leafHashArray,
  verifyConsistency,
  verifyInclusion,
} from '../audit/merkle-tree.js';
import { ed25519NoteVerifier, formatVerifierKey } from '../audit/signed-note.js';
import { openCheckpoint, type TlogCheckpoint } from '../audit/tlog-checkpoint.js';
import {
  assertTopicExists,
  badInput,
  cliContext,
  cliTransport,
  parseCount,
  parseDuration,
  withHints,
  type CliContext,
} from './cli-support.js';
import { auditSigner } from './audit-commands.js';
import { openConfiguredAuditLogStores } from '../stores/open-stores.js';
import { openAuditLogsFromOptions } from './audit-logs.js';
import { CliExit } from './program.js';
import { EXIT, formatJson, type CliIo } from './output.js';

interface KeyOpts {
  auditIdentity: string;
  authorityKey?: string;
  authority?: string;
  directoryFile?: string;
  directoryTopic?: string;
  origin?: string;
  partition?: string;
}

interface ProveOpts extends KeyOpts {
  index?: string;
  from?: string;
  to?: string;
  checkpointTopic?: string;
  timeout: string;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The options that locate the audit key and the log's origin (`audit verify`, `vkey`, `prove`). */
export function withAuditKeyOptions(cmd: Command): Command {
  return cmd
    .option('--audit-identity <name>', 'the audit identity whose key signs checkpoints', 'audit')
    .option(
      '--authority-key <hex>',
      'pinned authority public key (default SEALPOST_AUTHORITY_PUBLIC_KEY)',
    )
    .option('--authority <path>', 'or: read the authority public key from this file')
    .option(
      '--directory-file <path>',
      'directory file (default SEALPOST_DIRECTORY_FILE, else the directory topic)',
    )
    .option('--directory-topic <topic>', 'directory topic (default SEALPOST_DIRECTORY_TOPIC)')
    .option(
      '--origin <origin>',
      "the log's origin line (default sealpost/audit/<SEALPOST_CLUSTER_NAME>/<SEALPOST_METADATA_TOPIC>/<partition>)",
    )
    .option('--partition <n>', 'the log of this metadata partition (one log per partition)');
}

/** The origins the options name: `--origin`, `--partition`, or one per metadata partition. */
async function originsOf(ctx: CliContext, opts: KeyOpts): Promise<string[]> {
  if (opts.origin !== undefined) return [opts.origin];
  const log = { cluster: ctx.config.clusterName, topic: ctx.config.metadataTopic };
  if (opts.partition !== undefined)
    return [auditLogOrigin({ ...log, partition: parseCount(opts.partition, '--partition') })];
  // A store from before per-partition logs, and none since: its single log (docs/AUDIT.md).
  const stores = openConfiguredAuditLogStores(ctx.config, ctx.crypto);
  try {
    if ((await stores.partitions(log)).length === 0) {
      const single = await stores.openSingle();
      if (single !== undefined) {
        await single.close();
        return [defaultAuditOrigin(log.topic)];
      }
    }
  } finally {
    await stores.close();
  }
  const admin = cliTransport(ctx, 'sealpost-audit-vkey').admin();
  await admin.connect();
  try {
    const [topic] = await admin.describeTopics([log.topic]);
    return (topic?.partitions ?? [])
      .map((p) => p.partition)
      .sort((a, b) => a - b)
      .map((partition) => auditLogOrigin({ ...log, partition }));
  } finally {
    await admin.disconnect();
  }
}

/**
 * `sealpost audit vkey` and `sealpost audit prove`: what an auditor needs to check the log with any
 * C2SP / RFC 6962 verifier (docs/AUDIT.md; `interop/go` is one).
 */
export function registerAuditProveCommands(audit: Command, io: CliIo): void {
  withAuditKeyOptions(
    audit
      .command('vkey')
      .description(
        "Print each log's verifier key (<origin>+<key id>+<base64 key>) for auditors: one line per metadata partition, or the log of --partition",
      ),
  )
    .option('--all-keys', 'one line per audit signing key, oldest first (after a rotation)')
    .addHelpText('after', '\nExample:\n  sealpost audit vkey --partition 0 > audit-p0.vkey')
    .action(async (opts: KeyOpts & { allKeys?: boolean }) => {
      const ctx = await cliContext(io);
      await withHints(ctx.config, async () => {
        const signer = await auditSigner(ctx, opts, []);
        const keys =
          opts.allKeys === true ? signer.all.map((k) => k.publicKey) : [signer.publicKey];
        for (const origin of await originsOf(ctx, opts))
          for (const key of keys) io.out(`${formatVerifierKey(ctx.crypto, origin, key)}\n`);
      });
    });

  withAuditKeyOptions(
    audit
      .command('prove')
      .description(
        'Print a proof bundle (JSON) against published C2SP checkpoints: --index N (inclusion of entry N) or --from A --to B (consistency)',
      ),
  )
    .option('--index <n>', 'entry index to prove included in the newest published checkpoint')
    .option('--from <size>', 'older published checkpoint size')
    .option('--to <size>', 'newer published checkpoint size')
    .option(
      '--checkpoint-topic <topic>',
      'published checkpoints (default SEALPOST_CHECKPOINT_TOPIC)',
    )
    .option('--timeout <duration>', 'how long to read the checkpoint topic', '30s')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost audit prove --index 42 | (cd interop/go && go run . -vkey "$(sealpost audit vkey)")',
    )
    .action(async (opts: ProveOpts) => {
      const ctx = await cliContext(io);
      const timeoutMs = parseDuration(opts.timeout, '--timeout');
      const wantsInclusion = opts.index !== undefined;
      const wantsConsistency = opts.from !== undefined || opts.to !== undefined;
      if (
        wantsInclusion === wantsConsistency ||
        (wantsConsistency && (opts.from === undefined || opts.to === undefined))
      ) {
        throw badInput('pass either --index N, or --from A --to B');
      }
      const index = wantsInclusion ? parseCount(opts.index!, '--index') : 0;
      const from = wantsConsistency ? parseCount(opts.from!, '--from') : 0;
      const to = wantsConsistency ? parseCount(opts.to!, '--to') : 0;
      const opened = await openAuditLogsFromOptions(ctx, opts);
      const { logs } = opened;
      try {
        if (logs.length !== 1)
          throw badInput(
            `${logs.length} logs here (one per metadata partition): pass --partition N (logs: ${logs.map((l) => l.partition ?? 'single').join(', ')})`,
          );
        const { store, origin } = logs[0]!;
        await withHints(ctx.config, async () => {
          const signer = await auditSigner(ctx, opts, []);
          // Every key of the audit identity: a rotated log's notes are signed by either.
          const verifiers = signer.all.map((k) =>
            ed25519NoteVerifier(ctx.crypto, origin, k.publicKey),
          );
          const checkpointTopic = opts.checkpointTopic ?? ctx.config.checkpointTopic;
          await assertTopicExists(
            ctx,
            checkpointTopic,
            "set SEALPOST_CHECKPOINT_TOPIC (or --checkpoint-topic) to the audit worker's",
          );
          const { notes } = await readPublishedCheckpoints(
            cliTransport(ctx, 'sealpost-audit-prove'),
            checkpointTopic,
            {
              groupId: `sealpost-audit-prove-${Buffer.from(ctx.crypto.randomBytes(6)).toString('hex')}`,
              timeoutMs,
            },
          );
          const published: { note: string; head: TlogCheckpoint }[] = [];
          for (const note of notes) {
            const opened = openCheckpoint(note, verifiers, origin);
            if (opened.ok) published.push({ note, head: opened.checkpoint });
          }
          published.sort((a, b) => a.head.size - b.head.size);
          const entries: Uint8Array[] = [];
          for await (const e of store.entries()) entries.push(e.event);
          const leaves = leafHashArray(entries.map((e) => leafHash(ctx.crypto, e)));
          const bySize = (size: number) => published.find((p) => p.head.size === size);
          if (wantsInclusion) {
            const target = published.at(-1);
            if (target === undefined || target.head.size <= index) {
              throw badInput(
                `no published checkpoint covers entry ${index} yet (newest size ${target?.head.size ?? 0}); wait for the next checkpoint`,
              );
            }
            if (target.head.size > leaves.size)
              throw failed(io, 'the store is shorter than the published checkpoint (TRUNCATED)');
            const proof = inclusionProof(ctx.crypto, leaves, index, target.head.size);
            const leaf = leaves.at(index);
            if (
              !verifyInclusion(
                ctx.crypto,
                leaf,
                index,
                target.head.size,
                proof,
                target.head.rootHash,
              )
            ) {
              throw failed(
                io,
                `the stored log does not match the published checkpoint at size ${target.head.size}`,
              );
            }
            io.out(
              formatJson({
                checkpoint: target.note,
                inclusion: { index, entry: b64(entries[index]!), proof: proof.map(b64) },
              }),
            );
            return;
          }
          const older = bySize(from);
          const newer = bySize(to);
          if (from > to || older === undefined || newer === undefined) {
            throw badInput(
              `--from and --to must be sizes of published checkpoints, from ≤ to (published: ${published.map((p) => p.head.size).join(', ') || 'none'})`,
            );
          }
          if (to > leaves.size)
            throw failed(io, 'the store is shorter than the published checkpoint (TRUNCATED)');
          const proof = consistencyProof(ctx.crypto, leaves, from, to);
          if (
            !verifyConsistency(
              ctx.crypto,
              from,
              to,
              proof,
              older.head.rootHash,
              newer.head.rootHash,
            )
          ) {
            throw failed(
              io,
              `published checkpoints ${from} and ${to} are not consistent with each other and the store`,
            );
          }
          io.out(
            formatJson({
              checkpoint: newer.note,
              consistency: { oldCheckpoint: older.note, proof: proof.map(b64) },
            }),
          );
        });
      } finally {
        await opened.close();
      }
    });
}

function failed(io: CliIo, message: string): CliExit {
  io.err(`audit prove: ${message}\n`);
  return new CliExit(EXIT.FAILED);
}
