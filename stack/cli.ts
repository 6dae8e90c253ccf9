/**
 * `npm run stack -- up | down | status | kill | pause | resume | restart | wipe`: the local Kafka + Apicurio Registry + OpenBao stack, as
 * processes on 127.0.0.1, installed into and run from `.stack/`.
 */
import { resolve } from 'node:path';
import { issueServiceCertificate } from './certs.js';
import { stackPaths } from './paths.js';
import { StackError } from './progress.js';
import {
  endpointsSummary,
  parseOptionalServices,
  parseServiceName,
  stackDown,
  stackKill,
  stackPause,
  stackRestart,
  stackStatus,
  stackUp,
  stackWipe,
  type OptionalService,
  type StackUpOptions,
} from './stack.js';
import { parseBrokerCount } from './versions.js';

const usage = [
  'usage: npm run stack -- up [--brokers 1|3] [--openbao dev|persistent] [--with postgres]',
  '       npm run stack -- down [--wipe] | status | wipe',
  '       npm run stack -- kill|pause|resume|restart <kafka|kafka-N|openbao|apicurio>',
  '       npm run stack -- issue-cert <identity> <out-dir>',
].join('\n');

function parseUpOptions(args: readonly string[]): StackUpOptions | undefined {
  let brokers: number | undefined;
  let openbao: StackUpOptions['openbao'];
  let optional: OptionalService[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? args[++i];
    if (value === undefined) return undefined;
    if (flag === '--brokers') {
      try {
        brokers = parseBrokerCount(value, '--brokers');
      } catch (err) {
        throw new StackError((err as Error).message);
      }
    } else if (flag === '--openbao' && (value === 'dev' || value === 'persistent')) {
      openbao = value;
    } else if (flag === '--with') {
      optional = [...(optional ?? []), ...parseOptionalServices(value, '--with')];
    } else {
      return undefined;
    }
  }
  return {
    ...(brokers === undefined ? {} : { brokers }),
    ...(openbao === undefined ? {} : { openbao }),
    ...(optional === undefined ? {} : { with: optional }),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const bad = (): number => {
    process.stderr.write(`${usage}\n`);
    return 2;
  };
  if (command === 'issue-cert') {
    // A client certificate CN=<identity> signed by the stack CA: that service's own Kafka principal.
    const [identity, outDir] = rest;
    if (identity === undefined || outDir === undefined || rest.length !== 2) return bad();
    const cert = issueServiceCertificate(identity, resolve(outDir));
    process.stdout.write(
      `principal ${cert.principal}\ncert ${cert.certFile}\nkey ${cert.keyFile}\nca ${cert.caFile}\n`,
    );
    return 0;
  }
  switch (command) {
    case 'up': {
      const options = parseUpOptions(rest);
      if (options === undefined) return bad();
      await stackUp(options);
      for (const line of endpointsSummary()) process.stdout.write(`${line}\n`);
      process.stdout.write(`env file: ${stackPaths.envFile}\n`);
      return 0;
    }
    case 'down':
      if (rest.length > 1 || (rest.length === 1 && rest[0] !== '--wipe')) return bad();
      await stackDown({ wipe: rest[0] === '--wipe' });
      return 0;
    case 'wipe':
      if (rest.length > 0) return bad();
      await stackWipe();
      return 0;
    case 'kill':
    case 'pause':
    case 'resume':
    case 'restart': {
      if (rest.length !== 1) return bad();
      const name = parseServiceName(rest[0]!);
      if (command === 'kill') await stackKill(name);
      else if (command === 'restart') await stackRestart(name);
      else stackPause(name, command === 'pause');
      return 0;
    }
    case 'status': {
      if (rest.length > 0) return bad();
      const rows = await stackStatus();
      for (const r of rows) {
        const state =
          r.pid === undefined
            ? r.portTakenByOther
              ? 'not ours: another process holds its port(s)'
              : 'stopped'
            : r.paused
              ? 'paused (SIGSTOP)'
              : r.ready
                ? 'ready'
                : 'running, not ready';
        process.stdout.write(
          `${r.name.padEnd(9)} pid ${String(r.pid ?? '-').padEnd(8)} ports ${r.ports.join(',').padEnd(23)} ${state}\n`,
        );
      }
      return rows.every((r) => r.ready && r.pid !== undefined) ? 0 : 1;
    }
    default:
      return bad();
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
