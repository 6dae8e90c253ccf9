import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { buildKms } from '../app/compose.js';
import type { CountingKms } from '../keys/kms/counting-kms.js';
import {
  createIdentity,
  destroyRetired,
  initAuthority,
  listIdentities,
  identitiesWrappedBy,
  identityFilesHolder,
  rewrapIdentity,
  rewrapWrappedKeys,
  revokeIdentity,
  rotateIdentity,
  type IdentitySummary,
} from '../keys/operations.js';
import { readIdentityFile } from '../keys/identity-file.js';
import type { WrappedKeyHolder } from '../keys/kms/wrapped-key-inventory.js';
import { replayStateKeysHolder } from '../pipeline/replay-state-key-rewrap.js';
import { tokenKeyFilesHolder } from '../tokenize/token-key-rewrap.js';
import {
  badInput,
  cliContext,
  cliTransport,
  iso,
  parseDuration,
  print,
  table,
  withHints,
  type CliContext,
} from './cli-support.js';
import { directoryLocationOf, resolveAuthorityFile, withLocation } from './directory-commands.js';
import type { CliIo } from './output.js';

/** `--kms local|vault`: overrides SEALPOST_KMS for one command. */
export function kmsOption(): Option {
  return new Option(
    '--kms <kind>',
    'KMS that wraps the private keys (overrides SEALPOST_KMS)',
  ).choices(['local', 'vault']);
}

/** Opens the configured KMS for the length of `body`, then closes it. */
export async function withKms<T>(
  ctx: CliContext,
  body: (kms: CountingKms) => Promise<T>,
  options: { create?: boolean } = {},
): Promise<T> {
  return withHints(ctx.config, async () => {
    const kms = await buildKms(ctx.config, {
      crypto: ctx.crypto,
      clock: ctx.clock,
      createLocalKeyring: options.create ?? false,
    });
    try {
      return await body(kms);
    } finally {
      await kms.close();
    }
  });
}

/** Rows of an identity summary: one per key generation. Public values only. */
export function generationRows(summary: IdentitySummary, path?: string): Record<string, unknown>[] {
  return summary.generations.map((g) => ({
    name: summary.name,
    kind: summary.kind,
    generation: g.generation,
    state: g.state,
    boxKid: g.boxKid,
    signKid: g.signKid,
    xwingKid: g.kemKid,
    kms: summary.kms.kind,
    kmsVersion: g.wrappedWithVersion,
    created: iso(g.createdAtMs),
    retired: iso(g.retiredAtMs),
    ...(path === undefined ? {} : { file: path }),
  }));
}

const GEN_COLUMNS = [
  'name',
  'kind',
  'generation',
  'state',
  'boxKid',
  'signKid',
  'xwingKid',
  'kms',
  'kmsVersion',
  'created',
  'retired',
];

interface KmsOpts {
  kms?: string;
  json?: boolean;
}

const overridesOf = (opts: KmsOpts): Record<string, string | undefined> => ({
  SEALPOST_KMS: opts.kms,
});

/** The identity file of NAME (`<keysDir>/<name>.json`) unless `--file` says otherwise. */
function identityPath(ctx: CliContext, name: string | undefined, file: string | undefined): string {
  if (file !== undefined) return ctx.path(file);
  return join(ctx.config.keysDir, `${name ?? 'authority'}.json`);
}

/** `sealpost keys …`: identity key files, rotation, revocation, crypto-shredding, KMS rewrap. */
export function registerKeysCommands(program: Command, io: CliIo): void {
  const keys = program
    .command('keys')
    .description(
      'Identity key files: create, rotate, revoke, destroy retired keys, rewrap under a rotated KMS key',
    )
    .addHelpText(
      'after',
      '\nExample:\n  sealpost keys init-authority && sealpost keys create orders && sealpost keys list',
    );

  keys
    .command('init-authority')
    .description(
      'Create the directory authority identity (its private key wrapped by the KMS); prints the public key services pin',
    )
    .option(
      '--file <path>',
      'where to write the authority file (default <SEALPOST_KEYS_DIR>/authority.json)',
    )
    .option('--name <name>', 'authority identity name', 'authority')
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost keys init-authority --kms vault\n  export SEALPOST_AUTHORITY_PUBLIC_KEY=<hex printed above>',
    )
    .action(async (opts: KmsOpts & { file?: string; name: string }) => {
      const ctx = await cliContext(io, overridesOf(opts));
      const path =
        opts.file === undefined ? join(ctx.config.keysDir, 'authority.json') : ctx.path(opts.file);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const r = await withKms(
        ctx,
        (kms) =>
          initAuthority({ path, name: opts.name, kms, crypto: ctx.crypto, clock: ctx.clock }),
        { create: true },
      );
      const publicKeyHex = Buffer.from(r.publicKey, 'base64').toString('hex');
      print(
        io,
        opts.json,
        {
          file: path,
          kid: r.kid,
          publicKey: publicKeyHex,
          publicKeyBase64: r.publicKey,
          summary: r.summary,
        },
        () =>
          `created authority ${r.summary.name} in ${path}\n` +
          table([{ kid: r.kid, publicKey: publicKeyHex, kms: r.summary.kms.kind }]) +
          `\nPin it in every service:\n  export SEALPOST_AUTHORITY_PUBLIC_KEY=${publicKeyHex}\n`,
      );
    });

  keys
    .command('create')
    .description(
      'Create a service identity (X25519 + Ed25519 keypairs, with --xwing also an X-Wing keypair; private keys wrapped by the KMS)',
    )
    .argument('<name>', 'identity name, [a-z0-9][a-z0-9._-]*')
    .option('--file <path>', 'where to write it (default <SEALPOST_KEYS_DIR>/<name>.json)')
    .option(
      '--xwing',
      'also create an X-Wing (ML-KEM-768 + X25519) keypair, so peers can seal suite 2 (post-quantum) to it',
    )
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost keys create orders --kms vault --xwing\n  sealpost directory publish --grant orders:send=orders.v1',
    )
    .action(async (name: string, opts: KmsOpts & { file?: string; xwing?: boolean }) => {
      const ctx = await cliContext(io, overridesOf(opts));
      const path = identityPath(ctx, name, opts.file);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const summary = await withKms(
        ctx,
        (kms) =>
          createIdentity({
            path,
            name,
            xwing: opts.xwing === true,
            kms,
            crypto: ctx.crypto,
            clock: ctx.clock,
          }),
        { create: true },
      );
      print(
        io,
        opts.json,
        { file: path, summary },
        () => `created ${name} in ${path}\n` + table(generationRows(summary), GEN_COLUMNS),
      );
    });

  keys
    .command('rotate')
    .description(
      'New active keypair generation; the previous one becomes retiring (still opens, no longer sealed to). The new generation keeps an X-Wing keypair if the active one has one. Publish afterwards.',
    )
    .argument('<name>', 'identity name')
    .option('--file <path>', 'identity file (default <SEALPOST_KEYS_DIR>/<name>.json)')
    .option(
      '--xwing',
      'give the new generation an X-Wing (ML-KEM-768 + X25519) keypair: how an existing identity gains suite 2 (post-quantum)',
    )
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost keys rotate orders && sealpost directory publish --grant orders:send=orders.v1\n  sealpost keys rotate orders --xwing   # add X-Wing keys at this rotation',
    )
    .action(async (name: string, opts: KmsOpts & { file?: string; xwing?: boolean }) => {
      const ctx = await cliContext(io, overridesOf(opts));
      const path = identityPath(ctx, name, opts.file);
      const summary = await withKms(ctx, (kms) =>
        rotateIdentity({
          path,
          xwing: opts.xwing === true,
          kms,
          crypto: ctx.crypto,
          clock: ctx.clock,
        }),
      );
      print(
        io,
        opts.json,
        { file: path, summary },
        () =>
          `rotated ${name}; publish the directory so peers seal to the new key\n` +
          table(generationRows(summary), GEN_COLUMNS),
      );
    });

  keys
    .command('revoke')
    .description(
      "Revoke an identity's directory records (all, or one kid) and publish the directory. Final.",
    )
    .argument('<name>', 'identity name')
    .option('--kid <hex>', 'revoke only the record with this signing, box or X-Wing kid')
    .option(
      '--authority <path>',
      'authority identity file (default <SEALPOST_KEYS_DIR>/authority.json)',
    )
    .option(
      '--directory-file <path>',
      'directory file (default SEALPOST_DIRECTORY_FILE, else the directory topic)',
    )
    .option('--topic <topic>', 'directory topic (default SEALPOST_DIRECTORY_TOPIC)')
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost keys revoke orders --kid 3f2a…  --directory-file .sealpost/directory.json',
    )
    .action(
      async (
        name: string,
        opts: KmsOpts & {
          kid?: string;
          authority?: string;
          directoryFile?: string;
          topic?: string;
        },
      ) => {
        const ctx = await cliContext(io, overridesOf(opts));
        if (opts.kid !== undefined && !/^[0-9a-f]{32}$/.test(opts.kid)) {
          throw badInput(`--kid: "${opts.kid}" must be 32 lowercase hex characters`);
        }
        const authorityFile = resolveAuthorityFile(ctx, opts.authority);
        const location = directoryLocationOf(ctx, opts);
        const summary = await withKms(ctx, (kms) =>
          withLocation(
            location,
            (loc) =>
              revokeIdentity({
                authorityFile,
                kms,
                crypto: ctx.crypto,
                clock: ctx.clock,
                location: loc,
                identity: name,
                ...(opts.kid === undefined ? {} : { kid: opts.kid }),
              }),
            ctx,
          ),
        );
        const revoked = summary.records.filter(
          (r) => r.identity === name && r.status === 'revoked',
        );
        print(
          io,
          opts.json,
          summary,
          () =>
            `revoked ${name}; directory epoch ${summary.epoch}, serial ${summary.highestSerial}\n` +
            table(
              revoked.map((r) => ({
                identity: r.identity,
                serial: r.serial,
                status: r.status,
                signKid: r.signKid,
                boxKid: r.boxKid,
              })),
            ),
        );
      },
    );

  keys
    .command('destroy-retired')
    .description(
      'Crypto-shred key generations retired at least --retention ago (their wrapped private keys are removed)',
    )
    .argument('<name>', 'identity name')
    .option('--file <path>', 'identity file (default <SEALPOST_KEYS_DIR>/<name>.json)')
    .option(
      '--retention <duration>',
      'how long a retired key must have been retiring (e.g. 7d)',
      '7d',
    )
    .option('--json', 'output as JSON')
    .addHelpText('after', '\nExample:\n  sealpost keys destroy-retired orders --retention 30d')
    .action(async (name: string, opts: { file?: string; retention: string; json?: boolean }) => {
      const ctx = await cliContext(io);
      const retentionMs = parseDuration(opts.retention, '--retention');
      const path = identityPath(ctx, name, opts.file);
      const r = await withHints(ctx.config, () =>
        destroyRetired({ path, retentionMs, crypto: ctx.crypto, clock: ctx.clock }),
      );
      print(
        io,
        opts.json,
        { file: path, ...r },
        () =>
          (r.destroyed.length === 0
            ? 'nothing to destroy\n'
            : `destroyed generations ${r.destroyed.join(', ')} of ${name}; publish the directory to mark them revoked\n`) +
          table(generationRows(r.summary), GEN_COLUMNS),
      );
    });

  keys
    .command('list')
    .description('List the identity files in a folder (public values only)')
    .option('--dir <path>', 'folder (default SEALPOST_KEYS_DIR)')
    .option('--json', 'output as JSON')
    .addHelpText('after', '\nExample:\n  sealpost keys list --dir .sealpost/keys --json')
    .action(async (opts: { dir?: string; json?: boolean }) => {
      const ctx = await cliContext(io);
      const dir = opts.dir === undefined ? ctx.config.keysDir : ctx.path(opts.dir);
      let found: Awaited<ReturnType<typeof listIdentities>>;
      try {
        found = await listIdentities({ dir, crypto: ctx.crypto });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw badInput(
            `no such folder ${dir} — create identities with \`sealpost keys create NAME\` or pass --dir`,
          );
        }
        throw err;
      }
      print(io, opts.json, found, () =>
        table(
          found.flatMap((f) => generationRows(f.summary, f.path)),
          [...GEN_COLUMNS, 'file'],
        ),
      );
    });

  keys
    .command('rewrap')
    .description(
      'Re-encrypt wrapped keys under the latest KMS key version (no plaintext leaves the KMS): one identity, or with --all everything this KMS key wrapped — identity files and token-key files in SEALPOST_KEYS_DIR, and the replay-state key records of those identities on SEALPOST_STATE_TOPIC',
    )
    .argument('[name]', 'identity name (or --all)')
    .option(
      '--all',
      'every key this KMS key wrapped (identity files, token-key files, replay-state keys)',
    )
    .option('--file <path>', 'identity file (default <SEALPOST_KEYS_DIR>/<name>.json)')
    .option('--state-topic <topic>', 'replay state topic (default SEALPOST_STATE_TOPIC)')
    .option('--rotate-kms-key', 'rotate the KMS key first')
    .option(
      '--raise-min-decryption-version',
      'then refuse older KMS key versions — refused, naming each, while any key this KMS key wrapped is still below the latest',
    )
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost keys rewrap --all --kms vault --rotate-kms-key\n  sealpost keys rewrap --all --kms vault --raise-min-decryption-version',
    )
    .action(
      async (
        name: string | undefined,
        opts: KmsOpts & {
          all?: boolean;
          file?: string;
          stateTopic?: string;
          rotateKmsKey?: boolean;
          raiseMinDecryptionVersion?: boolean;
        },
      ) => {
        const ctx = await cliContext(io, overridesOf(opts));
        const all = opts.all === true;
        if (all === (name !== undefined || opts.file !== undefined))
          throw badInput('name one identity (or --file), or pass --all — not both');
        const raise = opts.raiseMinDecryptionVersion === true;
        const stateTopic = opts.stateTopic ?? ctx.config.stateTopic;
        const kafka = ctx.config.kafkaBrokers !== undefined;
        if (raise && !kafka)
          throw badInput(
            `set KAFKA_BROKERS: before raising the minimum decryption version the replay-state key records on ${stateTopic} must be checked too`,
          );
        const dir = ctx.config.keysDir;
        const path = all ? undefined : identityPath(ctx, name, opts.file);
        const r = await withKms(ctx, async (kms) => {
          const identities = await identitiesWrappedBy({
            dir,
            crypto: ctx.crypto,
            reference: kms.reference,
          });
          const stateKeys = (only: readonly string[]): WrappedKeyHolder[] =>
            kafka
              ? [
                  replayStateKeysHolder({
                    transport: cliTransport(ctx, 'sealpost-keys-rewrap'),
                    stateTopic,
                    identities: only,
                    crypto: ctx.crypto,
                  }),
                ]
              : [];
          const inventory: WrappedKeyHolder[] = [
            identityFilesHolder({ dir, crypto: ctx.crypto }),
            ...(path === undefined || dirname(path) === dir
              ? []
              : [identityFilesHolder({ dir: dirname(path), crypto: ctx.crypto })]),
            tokenKeyFilesHolder(dir),
            ...stateKeys(identities),
          ];
          if (path === undefined) {
            const done = await rewrapWrappedKeys({
              kms,
              holders: inventory,
              inventory,
              rotateKmsKeyFirst: opts.rotateKmsKey === true,
              raiseMinDecryptionVersion: raise,
            });
            return { file: undefined, summary: undefined, ...done };
          }
          const file = await readIdentityFile(path, ctx.crypto);
          const done = await rewrapIdentity({
            path,
            kms,
            crypto: ctx.crypto,
            rotateKmsKeyFirst: opts.rotateKmsKey === true,
            raiseMinDecryptionVersion: raise,
            alsoRewrap: stateKeys([file.name]),
            inventory,
          });
          return { file: path, ...done };
        });
        if (!kafka)
          io.err(
            `warning: KAFKA_BROKERS is not set: the replay-state key records on ${stateTopic} were not rewrapped\n`,
          );
        print(
          io,
          opts.json,
          r,
          () =>
            `rewrapped ${r.rewrapped.length} wrapped key(s) under KMS key version ${r.kms.latestVersion} (min decryption version ${r.kms.minDecryptionVersion})\n` +
            (r.summary === undefined
              ? table(r.rewrapped.map((i) => ({ key: i.what, kmsVersion: i.version })))
              : table(generationRows(r.summary), GEN_COLUMNS)),
        );
      },
    );
}
