/**
 * `npm run stack -- up | down | status`: the local Kafka + Apicurio Registry + OpenBao stack, as
 * processes on 127.0.0.1, installed into and run from `.stack/`.
 */
import { resolve } from 'node:path';
import { issueServiceCertificate } from './certs.js';
import { stackPaths } from './paths.js';
import { StackError } from './progress.js';
import { endpointsSummary, stackDown, stackStatus, stackUp } from './stack.js';

const usage = 'usage: npm run stack -- up | down | status | issue-cert <identity> <out-dir>';

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'issue-cert') {
    // A client certificate CN=<identity> signed by the stack CA: that service's own Kafka principal.
    const [identity, outDir] = rest;
    if (identity === undefined || outDir === undefined || rest.length !== 2) {
      process.stderr.write(`${usage}\n`);
      return 2;
    }
    const cert = issueServiceCertificate(identity, resolve(outDir));
    process.stdout.write(
      `principal ${cert.principal}\ncert ${cert.certFile}\nkey ${cert.keyFile}\nca ${cert.caFile}\n`,
    );
    return 0;
  }
  if (rest.length > 0) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  switch (command) {
    case 'up':
      await stackUp();
      for (const line of endpointsSummary) process.stdout.write(`${line}\n`);
      process.stdout.write(`env file: ${stackPaths.envFile}\n`);
      return 0;
    case 'down':
      await stackDown();
      return 0;
    case 'status': {
      const rows = await stackStatus();
      for (const r of rows) {
        const state =
          r.pid === undefined
            ? r.portTakenByOther
              ? 'not ours: another process holds its port(s)'
              : 'stopped'
            : r.ready
              ? 'ready'
              : 'running, not ready';
        process.stdout.write(
          `${r.name.padEnd(9)} pid ${String(r.pid ?? '-').padEnd(8)} ports ${r.ports.join(',').padEnd(15)} ${state}\n`,
        );
      }
      return rows.every((r) => r.ready && r.pid !== undefined) ? 0 : 1;
    }
    default:
      process.stderr.write(`${usage}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      err instanceof StackError
        ? `stack: error: ${err.message}\n`
        : `stack: unexpected error: ${String((err as Error)?.stack ?? err)}\n`,
    );
    process.exitCode = 1;
  },
);
