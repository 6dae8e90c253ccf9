import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { createCryptoProvider } from '../crypto/index.js';
import { runDemo } from '../demo/demo.js';
import pino from 'pino';
import { createLogger } from '../observability/logger.js';
import { systemClock } from '../runtime/clock.js';
import { CliExit } from './program.js';
import { EXIT, formatJson, formatTable, type CliIo } from './output.js';

/** `sealpost demo`: the guided tour `npm start` runs. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('Run the whole sealed pipeline end to end on the local stack and print a summary')
    .option(
      '--kms <kind>',
      'who wraps the private keys: vault (OpenBao Transit) or local (a key file)',
      'vault',
    )
    .option('--orders <n>', 'order events to send', '4000')
    .option(
      '--dir <path>',
      'where the demo keeps its keys, directory and stores (wiped first)',
      '.sealpost/demo',
    )
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Needs the local stack (\`npm run stack -- up\`) and its endpoints in the environment
(\`set -a; . .stack/env; set +a\`); \`npm start\` does both.

Example:
  sealpost demo --kms local --orders 2000`,
    )
    .action(async (opts: { kms: string; orders: string; dir: string; json?: boolean }) => {
      if (opts.kms !== 'vault' && opts.kms !== 'local') {
        io.err(`error: --kms must be vault or local, not ${JSON.stringify(opts.kms)}\n`);
        throw new CliExit(EXIT.USAGE);
      }
      const orders = Number(opts.orders);
      if (!Number.isSafeInteger(orders) || orders < 1 || orders > 1_000_000) {
        io.err('error: --orders must be an integer between 1 and 1000000\n');
        throw new CliExit(EXIT.USAGE);
      }
      const config = loadConfig({ ...io.env, SEALPOST_KMS: opts.kms }, { cwd: io.cwd });
      const crypto = await createCryptoProvider();
      const logger = createLogger({
        level: config.logLevel === 'info' ? 'warn' : config.logLevel,
        name: 'sealpost-demo',
        destination: pino.destination(2),
      });
      const say = (line: string): void => {
        if (!opts.json) io.out(`  ${line}\n`);
      };
      if (!opts.json) io.out(`sealpost demo (crypto: ${crypto.name}, kms: ${opts.kms})\n`);
      const s = await runDemo({
        config,
        crypto,
        clock: systemClock,
        logger,
        workDir: resolve(io.cwd, opts.dir),
        orders,
        say,
        runId: `${systemClock.nowMs().toString(36)}-${randomBytes(3).toString('hex')}`,
      });
      const ok =
        Object.values(s.opened).every((n) => n === s.sealed) &&
        (s.quarantinedByReason.MESSAGE ?? 0) >= 1 &&
        (s.quarantinedByReason.STALE ?? 0) >= 1 &&
        s.audit.ok;
      if (opts.json) {
        io.out(formatJson({ ok, ...s }));
      } else {
        io.out('\nSummary\n');
        io.out(
          formatTable([
            {
              what: 'sealed and sent',
              value: `${s.sealed} order events (${s.producedPerSecond} msg/s)`,
            },
            ...Object.entries(s.opened).map(([who, n]) => ({
              what: `opened by ${who}`,
              value: String(n),
            })),
            {
              what: 'quarantined',
              value: Object.entries(s.quarantinedByReason)
                .map(([r, n]) => `${r} ${n}`)
                .join(', '),
            },
            {
              what: 'audit log',
              value: `${s.audit.entries} entries, ${s.audit.checkpoints} checkpoints, ${s.audit.ok ? 'verified' : `NOT verified (${s.audit.problem ?? ''})`}`,
            },
            { what: 'KMS calls', value: `${s.kmsCalls} (${s.kms}); none per message` },
            { what: 'files', value: join(opts.dir) },
          ]),
        );
        io.out(ok ? '\ndemo: OK\n' : '\ndemo: something did not add up (see above)\n');
      }
      if (!ok) throw new CliExit(EXIT.FAILED);
    });
}
