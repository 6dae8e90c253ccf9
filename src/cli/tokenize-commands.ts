import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildRegistry, buildTransport, openServiceKeys } from '../app/compose.js';
import { createLogger } from '../observability/logger.js';
import { MetadataEventEmitter } from '../pipeline/metadata-event-emitter.js';
import { SealedProducer } from '../pipeline/sealed-producer.js';
import { Detokenizer } from '../tokenize/detokenizer.js';
import {
  generateTokenKeyFile,
  openTokenKeyring,
  readTokenKeyFile,
  rotateTokenClass,
  writeTokenKeyFile,
} from '../tokenize/token-key-file.js';
import { deriveTokenSchema } from '../tokenize/token-schema.js';
import {
  badInput,
  cliContext,
  iso,
  print,
  table,
  withHints,
  type CliContext,
} from './cli-support.js';
import { kmsOption, withKms } from './keys-commands.js';
import type { CliIo } from './output.js';

/** The token-key file: `--file`, else `<SEALPOST_KEYS_DIR>/token-keys.json`. */
function tokenKeyPath(ctx: CliContext, file: string | undefined): string {
  return file === undefined ? join(ctx.config.keysDir, 'token-keys.json') : ctx.path(file);
}

function classList(text: string): string[] {
  const classes = text
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (classes.length === 0) throw badInput('--classes: give at least one class, e.g. card,iban');
  return classes;
}

/**
 * `sealpost tokenize keys init|rotate|list`, `sealpost tokenize schema`, and `sealpost detokenize`:
 * the token-key file (class keys wrapped by the configured KMS), the schema consumers will see, and
 * the audited, directory-gated reverse mapping.
 */
export function registerTokenizeCommands(program: Command, io: CliIo): void {
  const tokenize = program
    .command('tokenize')
    .description('Field tokenization: token keys per field class and derived schemas');
  const keys = tokenize
    .command('keys')
    .description('The token-key file (class keys wrapped by the KMS, versioned)');

  keys
    .command('init')
    .description('Create the token-key file with version 1 of each class')
    .requiredOption('--classes <list>', 'comma-separated field classes, e.g. card,iban,email')
    .option('--file <path>', 'token-key file (default <SEALPOST_KEYS_DIR>/token-keys.json)')
    .addOption(kmsOption())
    .addHelpText(
      'after',
      '\nExample:\n  sealpost tokenize keys init --classes card,iban --kms vault',
    )
    .action(async (opts: { classes: string; file?: string; kms?: string }) => {
      const ctx = await cliContext(io, { SEALPOST_KMS: opts.kms });
      const path = tokenKeyPath(ctx, opts.file);
      await withKms(ctx, async (kms) => {
        await writeTokenKeyFile(
          path,
          await generateTokenKeyFile(classList(opts.classes), {
            kms,
            crypto: ctx.crypto,
            clock: ctx.clock,
          }),
          { mustNotExist: true },
        );
      });
      io.out(`wrote ${path}\n`);
    });

  keys
    .command('rotate')
    .description(
      'Add a new key version for a class: new tokens use it, old tokens still detokenize',
    )
    .requiredOption('--class <class>', 'the field class')
    .option('--file <path>', 'token-key file (default <SEALPOST_KEYS_DIR>/token-keys.json)')
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText('after', '\nExample:\n  sealpost tokenize keys rotate --class card --kms vault')
    .action(async (opts: { class: string; file?: string; kms?: string; json?: boolean }) => {
      const ctx = await cliContext(io, { SEALPOST_KMS: opts.kms });
      const path = tokenKeyPath(ctx, opts.file);
      const version = await withKms(ctx, async (kms) => {
        const r = await rotateTokenClass(await readTokenKeyFile(path), opts.class, {
          kms,
          crypto: ctx.crypto,
          clock: ctx.clock,
        });
        await writeTokenKeyFile(path, r.file);
        return r.version;
      });
      print(
        io,
        opts.json,
        { class: opts.class, version },
        () => `class ${opts.class} now tokenizes with version ${version}\n`,
      );
    });

  keys
    .command('list')
    .description('List classes and key versions (no key material)')
    .option('--file <path>', 'token-key file (default <SEALPOST_KEYS_DIR>/token-keys.json)')
    .option('--json', 'output as JSON')
    .addHelpText('after', '\nExample:\n  sealpost tokenize keys list --json')
    .action(async (opts: { file?: string; json?: boolean }) => {
      const ctx = await cliContext(io);
      const file = await readTokenKeyFile(tokenKeyPath(ctx, opts.file));
      const rows = file.classes.flatMap((c) =>
        c.versions.map((v) => ({
          class: c.class,
          version: v.version,
          created: iso(v.createdAtMs),
          kms: file.kms.kind,
        })),
      );
      print(io, opts.json, rows, () => table(rows));
    });

  tokenize
    .command('schema <file>')
    .description(
      'Show the schema consumers will see for an annotated Avro schema, and its token fields',
    )
    .option('--json', 'output as JSON')
    .addHelpText('after', '\nExample:\n  sealpost tokenize schema schemas/order.avsc')
    .action(async (file: string, opts: { json?: boolean }) => {
      const ctx = await cliContext(io);
      const derived = deriveTokenSchema(await readFile(ctx.path(file), 'utf8'));
      print(
        io,
        opts.json,
        derived,
        () => `${table(derived.fields.map((f) => ({ ...f })))}\n${derived.text}\n`,
      );
    });

  program
    .command('detokenize <token>')
    .description(
      'Map a token back to its value: only for identities the directory clears for its class; audited',
    )
    .option('--file <path>', 'token-key file (default <SEALPOST_KEYS_DIR>/token-keys.json)')
    .option('--topic <topic>', 'where the token was read (recorded in the audit event)')
    .addOption(kmsOption())
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nRuns as SEALPOST_IDENTITY_FILE; the audit event is sealed to `audit` on SEALPOST_METADATA_TOPIC.\nExample:\n  sealpost detokenize spt1.card.1.s.… --topic orders',
    )
    .action(
      async (
        token: string,
        opts: { file?: string; topic?: string; kms?: string; json?: boolean },
      ) => {
        const ctx = await cliContext(io, { SEALPOST_KMS: opts.kms });
        await withKms(ctx, async (kms) => {
          const service = await openServiceKeys(ctx.config, {
            crypto: ctx.crypto,
            clock: ctx.clock,
            kms,
          });
          const keyring = await openTokenKeyring({
            path: tokenKeyPath(ctx, opts.file),
            kms,
            crypto: ctx.crypto,
          });
          const transport = buildTransport(ctx.config, {
            logger: createLogger({ level: 'silent' }),
            clock: ctx.clock,
            clientId: 'sealpost-detokenize',
          });
          const producer = new SealedProducer({
            transport,
            registry: buildRegistry(ctx.config),
            crypto: ctx.crypto,
            clock: ctx.clock,
            identity: service.identity,
            directory: service.directory,
          });
          let events: MetadataEventEmitter | undefined;
          try {
            await withHints(ctx.config, () => producer.connect());
            events = new MetadataEventEmitter({
              producer,
              topic: ctx.config.metadataTopic,
              crypto: ctx.crypto,
              clock: ctx.clock,
              actor: service.identity.name,
            });
            const detokenizer = new Detokenizer({
              identity: service.identity.name,
              keyring,
              directory: service.directory,
              clock: ctx.clock,
              events,
            });
            const result = detokenizer.detokenize(
              token,
              opts.topic === undefined ? {} : { topic: opts.topic },
            );
            const value =
              result.type === 'string'
                ? result.value
                : Buffer.from(result.value).toString('base64');
            print(
              io,
              opts.json,
              { class: result.tokenClass, version: result.version, type: result.type, value },
              () => `${value}\n`,
            );
          } finally {
            // The audit event (allowed or refused) is flushed before the command returns.
            await events?.close();
            await producer.close();
            keyring.close();
            service.close();
          }
        });
      },
    );
}
