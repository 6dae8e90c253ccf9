#!/usr/bin/env node
import { registerConfigCommands } from './config-commands.js';
import { createProgram, runProgram } from './program.js';
import type { CliIo } from './output.js';

const io: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
};

const program = createProgram(io, [registerConfigCommands]);
process.exitCode = await runProgram(program, process.argv.slice(2), io);
