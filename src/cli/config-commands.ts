import type { Command } from 'commander';
import { loadConfig, type SealpostConfig } from '../config/config.js';
import { formatJson, formatTable, type CliIo } from './output.js';

const SECRET_KEYS: readonly (keyof SealpostConfig)[] = ['vaultToken'];

/** `sealpost config check`: validates the configuration and shows it, secrets masked. */
export function registerConfigCommands(program: Command, io: CliIo): void {
  const config = program.command('config').description('Validate and show configuration');
  config
    .command('check')
    .description(
      'Validate the configuration from the environment and SEALPOST_CONFIG; list every problem',
    )
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  SEALPOST_KMS=vault VAULT_ADDR=http://127.0.0.1:8200 sealpost config check',
    )
    .action((opts: { json?: boolean }) => {
      const c = loadConfig(io.env, { cwd: io.cwd });
      const shown: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(c)) {
        shown[k] = SECRET_KEYS.includes(k as keyof SealpostConfig) && v !== undefined ? '(set)' : v;
      }
      if (opts.json) io.out(formatJson({ ok: true, config: shown }));
      else
        io.out(
          'configuration is valid\n' +
            formatTable(Object.entries(shown).map(([key, value]) => ({ key, value }))),
        );
    });
}
