#!/usr/bin/env node
import { createInterface } from 'node:readline';
import { registerAllGroups } from './groups.js';
import { createProgram, runProgram } from './program.js';
import type { CliIo, CliStdin } from './output.js';

const abort = new AbortController();
// First Ctrl-C asks long-running commands to stop; they return and the process exits normally.
process.once('SIGINT', () => abort.abort());
process.once('SIGTERM', () => abort.abort());

const stdin: CliStdin = {
  isTTY: process.stdin.isTTY === true,
  readLine: () =>
    new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin });
      let answered = false;
      rl.once('line', (line) => {
        answered = true;
        rl.close();
        resolve(line);
      });
      rl.once('close', () => {
        if (!answered) resolve('');
      });
    }),
  readAll: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  },
};

const io: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stdin,
  signal: abort.signal,
};

const program = createProgram(io, registerAllGroups);
process.exitCode = await runProgram(program, process.argv.slice(2), io);
// Standard output may be a pipe whose reader is slower than us: what the command wrote may still be
// queued in this process. Exit only once both streams have handed everything to the OS (#21.6).
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// Kafka and HTTP clients may keep sockets open for a moment; a CLI command is done once it returned.
process.exit();

/** Resolves once every write queued on `stream` so far has been handed to the OS (or failed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    // A write callback runs after the writes queued before it; an empty write queues nothing itself.
    // A reader that went away (EPIPE) ends the wait too: there is nobody left to write to.
    if (stream.destroyed || stream.writableEnded) resolve();
    else {
      stream.once('error', () => resolve());
      stream.write('', () => resolve());
    }
  });
}
