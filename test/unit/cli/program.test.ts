import { describe, expect, it } from 'vitest';
import { registerConfigCommands } from '../../../src/cli/config-commands.js';
import { createProgram, runProgram } from '../../../src/cli/program.js';
import type { CliIo } from '../../../src/cli/output.js';
import { formatTable } from '../../../src/cli/output.js';

function run(argv: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => (out += t), err: (t) => (err += t), env, cwd: process.cwd() };
  const program = createProgram(io, [registerConfigCommands]);
  return runProgram(program, argv, io).then((code) => ({ code, out, err }));
}

describe('sealpost CLI frame', () => {
  it('prints help with exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Exit codes:');
    expect(r.out).toContain('config');
  });

  it('unknown commands and options exit 2', async () => {
    expect((await run(['nope'])).code).toBe(2);
    expect((await run(['config', 'check', '--bogus'])).code).toBe(2);
  });

  it('config check: help has an example; valid config exits 0 with secrets masked', async () => {
    const help = await run(['config', 'check', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Example:');
    const r = await run(['config', 'check', '--json'], {
      SEALPOST_KMS: 'vault',
      VAULT_ADDR: 'http://127.0.0.1:8200',
      VAULT_TOKEN: 'root-token-value',
    });
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('root-token-value');
    expect(JSON.parse(r.out)).toMatchObject({
      ok: true,
      config: { vaultToken: '(set)', kms: 'vault' },
    });
  });

  it('config check: bad config exits 2 listing every problem', async () => {
    const r = await run(['config', 'check'], { SEALPOST_KMS: 'vault', KAFKA_BROKERS: 'x' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('VAULT_ADDR');
    expect(r.err).toContain('KAFKA_BROKERS');
  });

  it('formats aligned tables', () => {
    expect(
      formatTable([
        { a: 1, bb: 'x' },
        { a: 22, bb: null },
      ]),
    ).toBe('A   BB\n1   x\n22\n');
  });
});
