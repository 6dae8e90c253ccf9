import { Command, CommanderError } from 'commander';
import { ConfigError, SealpostError, isSealpostError, type ErrorCodeTable } from '../errors.js';
import { EXIT, type CliIo } from './output.js';

/** The CLI's own code: a command ended with a chosen exit code after printing its report. */
export const CLI_ERROR_CODES = { CLI_EXIT: 'no' } as const satisfies ErrorCodeTable;

/**
 * Thrown by a command that has printed its own report and wants a given exit code (e.g. `audit
 * verify` finding a bad entry exits 1).
 */
export class CliExit extends SealpostError {
  declare readonly code: keyof typeof CLI_ERROR_CODES;
  constructor(readonly exitCode: number) {
    super('CLI_EXIT', `exit ${exitCode}`);
  }
}

/** A command group registers its subcommands on the root program. */
export type CommandGroup = (program: Command, io: CliIo) => void;

/**
 * Builds the `sealpost` program. Commands are composition only: they parse options, call the library
 * and print a table (default) or JSON (`--json`). Every command has `--help` with an example.
 */
export function createProgram(io: CliIo, groups: readonly CommandGroup[]): Command {
  const program = new Command('sealpost')
    .description('End-to-end sealed messaging over Apache Kafka')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit codes:
  0  success
  1  the command ran and found a problem (verification failed, records refused)
  2  bad usage, input or configuration
  3  a service (Kafka, Schema Registry, OpenBao) is unreachable; retry when it is back

Configuration comes from environment variables and an optional JSON file (SEALPOST_CONFIG);
run \`sealpost config check\` to validate it. With the local stack: \`set -a; . .stack/env; set +a\`.`,
    );
  for (const group of groups) group(program, io);
  return program;
}

/** Runs the program on argv (without `node script`), mapping every error to a documented exit code. */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    return exitCodeFor(err, io);
  }
}

/** Prints an error without secrets and returns its exit code. */
export function exitCodeFor(err: unknown, io: CliIo): number {
  if (err instanceof CliExit) return err.exitCode;
  if (err instanceof CommanderError) {
    // commander already printed its message (help, version, usage errors)
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    ) {
      return EXIT.OK;
    }
    return EXIT.USAGE;
  }
  if (err instanceof ConfigError) {
    io.err(`error: ${err.message}\n`);
    return EXIT.USAGE;
  }
  if (isSealpostError(err)) {
    io.err(`error [${err.code}]: ${err.message}\n`);
    return err.retriable ? EXIT.UNAVAILABLE : EXIT.FAILED;
  }
  io.err(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.FAILED;
}
