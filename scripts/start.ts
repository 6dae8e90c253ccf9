/**
 * `npm start`: brings the local stack up (installing what is missing, with progress), loads its
 * endpoints, then runs `sealpost demo` with the arguments given after `npm start --`.
 */
import { readFileSync } from 'node:fs';
import { parseEnvText } from '../stack/env-file.js';
import { stackPaths } from '../stack/paths.js';
import { stackUp } from '../stack/stack.js';
import { registerConfigCommands } from '../src/cli/config-commands.js';
import { registerDemoCommand } from '../src/cli/demo-command.js';
import type { CliIo } from '../src/cli/output.js';
import { createProgram, runProgram } from '../src/cli/program.js';

process.stdout.write('sealpost: starting the local stack (Kafka, Schema Registry, OpenBao)\n');
await stackUp();
const env = { ...parseEnvText(readFileSync(stackPaths.envFile, 'utf8')), ...process.env };
const io: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env,
  cwd: process.cwd(),
};
const program = createProgram(io, [registerConfigCommands, registerDemoCommand]);
process.exitCode = await runProgram(program, ['demo', ...process.argv.slice(2)], io);
