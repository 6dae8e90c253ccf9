import { Option, type Command } from 'commander';
import type { SealpostConfig } from '../config/config.js';
import { ROLES, checkConfig, type Role } from '../config/role-check.js';
import { createCryptoProvider } from '../crypto/index.js';
import { parseIdentityFile } from '../keys/identity-file.js';
import { EXIT, formatJson, formatTable, type CliIo } from './output.js';
import { CliExit } from './program.js';

// A PostgreSQL URL may hold a password.
const SECRET_KEYS: readonly (keyof SealpostConfig)[] = ['vaultToken', 'postgresUrl'];

/**
 * `sealpost config check [--role <role>]`: validates the configuration and shows it, secrets masked.
 * With a role, every setting that role needs is required and every file it names is checked (present,
 * readable, secrets mode 0600, the identity file valid) — the same check the workers run at start.
 * Every problem is listed at once; exit 2 when there is any.
 */
export function registerConfigCommands(program: Command, io: CliIo): void {
  const config = program.command('config').description('Validate and show configuration');
  config
    .command('check')
    .description(
      'Validate the configuration from the environment and SEALPOST_CONFIG; list every problem',
    )
    .addOption(
      new Option('--role <role>', 'check everything this kind of service needs').choices(ROLES),
    )
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExit codes: 0 valid, 2 a problem (every one is listed).\n' +
        '\nExample:\n  SEALPOST_KMS=vault VAULT_ADDR=http://127.0.0.1:8200 sealpost config check --role consumer',
    )
    .action(async (opts: { json?: boolean; role?: Role }) => {
      const crypto = await createCryptoProvider();
      const { config: c, problems } = checkConfig(io.env, opts.role, {
        cwd: io.cwd,
        validateIdentityFile: (json) => parseIdentityFile(json, crypto),
      });
      const role = opts.role ?? null;
      if (c === undefined) {
        if (opts.json) io.out(formatJson({ ok: false, role, problems }));
        else
          io.err(
            `invalid configuration${role === null ? '' : ` for ${role}`} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}\n`,
          );
        throw new CliExit(EXIT.USAGE);
      }
      const shown: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(c)) {
        shown[k] = SECRET_KEYS.includes(k as keyof SealpostConfig) && v !== undefined ? '(set)' : v;
      }
      if (opts.json) io.out(formatJson({ ok: true, role, config: shown }));
      else
        io.out(
          (role === null
            ? 'the settings given are valid (no --role: what a service needs was not checked; ' +
              `pass --role ${ROLES.join('|')})\n`
            : `configuration is valid for ${role}\n`) +
            formatTable(Object.entries(shown).map(([key, value]) => ({ key, value }))),
        );
    });
}
