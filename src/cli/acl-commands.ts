import type { Command } from 'commander';
import { applyAcls } from '../acl/acl-apply.js';
import { buildTransport } from '../app/compose.js';
import { createLogger } from '../observability/logger.js';
import {
  DEFAULT_ACL_CONVENTIONS,
  diffAcls,
  formatBinding,
  planAcls,
  type AclConventions,
  type AclDiff,
  type AclPlan,
} from '../acl/acl-plan.js';
import { showDirectory } from '../keys/operations.js';
import { cliContext, print, withHints, type CliContext } from './cli-support.js';
import { directoryLocationOf, pinnedAuthorityKey, withLocation } from './directory-commands.js';
import { CliExit } from './program.js';
import { EXIT, type CliIo } from './output.js';

interface AclOpts {
  directoryFile?: string;
  topic?: string;
  authorityKey?: string;
  authority?: string;
  auditIdentity: string;
  dlqIdentity: string;
  json?: boolean;
}

/** Reads and validates the directory, then plans its ACLs with the configured topic names. */
async function planFromDirectory(ctx: CliContext, opts: AclOpts): Promise<AclPlan> {
  const key = await pinnedAuthorityKey(ctx, opts);
  const target = directoryLocationOf(ctx, opts);
  const summary = await withHints(ctx.config, () =>
    withLocation(
      target,
      (location) =>
        showDirectory({ location, authorityPublicKey: key, crypto: ctx.crypto, clock: ctx.clock }),
      ctx,
    ),
  );
  const c = ctx.config;
  const conventions: AclConventions = {
    ...DEFAULT_ACL_CONVENTIONS,
    metadataTopic: c.metadataTopic,
    deadLetterTopic: c.deadLetterTopic,
    stateTopic: c.stateTopic,
    checkpointTopic: c.checkpointTopic,
    auditIdentity: opts.auditIdentity,
    deadLetterIdentity: opts.dlqIdentity,
    // Services read the directory from Kafka when it lives there.
    ...(target.kind === 'topic' ? { directoryTopic: target.topic } : {}),
  };
  return planAcls(summary.records, conventions);
}

function diffText(diff: AclDiff): string {
  const lines = [
    ...diff.add.map((b) => `+ ${formatBinding(b)}`),
    ...diff.remove.map((b) => `- ${formatBinding(b)}`),
  ];
  return `${lines.join('\n')}${lines.length > 0 ? '\n' : ''}${diff.add.length} to add, ${diff.remove.length} to remove, ${diff.unchanged} unchanged\n`;
}

function withCommonOptions(cmd: Command): Command {
  return cmd
    .option(
      '--directory-file <path>',
      'read the directory from this file (default SEALPOST_DIRECTORY_FILE, else the topic)',
    )
    .option(
      '--topic <topic>',
      'read the directory from this topic (default SEALPOST_DIRECTORY_TOPIC)',
    )
    .option(
      '--authority-key <hex>',
      'pinned authority public key (default SEALPOST_AUTHORITY_PUBLIC_KEY)',
    )
    .option('--authority <path>', 'or: read the public key from this authority file')
    .option(
      '--audit-identity <name>',
      'the audit worker identity (reads the metadata topic)',
      'audit',
    )
    .option(
      '--dlq-identity <name>',
      'the dead-letter worker identity (reads the dead-letter topic)',
      'dlq',
    )
    .option('--json', 'output as JSON');
}

/**
 * `sealpost acl plan | apply`: the Kafka ACLs each identity's mTLS principal (User:CN=<identity>)
 * needs, derived from the signed key directory, and their idempotent application (diff first).
 */
export function registerAclCommands(program: Command, io: CliIo): void {
  const acl = program
    .command('acl')
    .description(
      "Broker ACLs derived from the key directory (each service's mTLS principal User:CN=<identity>)",
    );

  withCommonOptions(acl.command('plan'))
    .description(
      'List the ACL bindings every identity needs (topics it may send to / receive from, its groups, the metadata, dead-letter, state and checkpoint topics)',
    )
    .addHelpText(
      'after',
      '\nExample:\n  sealpost acl plan --directory-file .sealpost/directory.json',
    )
    .action(async (opts: AclOpts) => {
      const ctx = await cliContext(io);
      const plan = await planFromDirectory(ctx, opts);
      print(
        io,
        opts.json,
        plan,
        () =>
          `${plan.bindings.map((b) => formatBinding(b)).join('\n')}\n${plan.bindings.length} bindings for ${plan.principals.length} principals\n`,
      );
    });

  withCommonOptions(acl.command('apply'))
    .description(
      'Show the diff against the cluster, then create the missing bindings and delete the stale ones of managed principals',
    )
    .option('--dry-run', 'only show the diff')
    .option('--yes', 'do not ask for confirmation on a terminal')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost acl apply --directory-file .sealpost/directory.json --yes\n\nThe admin connection (KAFKA_BROKERS, KAFKA_SSL_*) must be a super user or hold ALTER on the cluster.',
    )
    .action(async (opts: AclOpts & { dryRun?: boolean; yes?: boolean }) => {
      const ctx = await cliContext(io);
      const plan = await planFromDirectory(ctx, opts);
      const admin = buildTransport(ctx.config, {
        logger: createLogger({ level: 'silent' }),
        clock: ctx.clock,
        clientId: 'sealpost-acl',
      }).admin();
      await withHints(ctx.config, async () => {
        await admin.connect();
        try {
          const diff = diffAcls(plan, await admin.describeAcls());
          const nothing = diff.add.length === 0 && diff.remove.length === 0;
          if (opts.json !== true) io.out(diffText(diff));
          if (opts.dryRun === true || nothing) {
            if (opts.json === true) print(io, true, { applied: false, ...diff }, () => '');
            return;
          }
          if (opts.yes !== true && io.stdin?.isTTY === true) {
            io.out('apply these changes? [y/N] ');
            if (!/^y(es)?$/i.test((await io.stdin.readLine()).trim()))
              throw new CliExit(EXIT.FAILED);
          }
          const applied = await applyAcls(admin, plan);
          print(io, opts.json, { applied: true, ...applied }, () => 'applied\n');
        } finally {
          await admin.disconnect();
        }
      });
    });
}
