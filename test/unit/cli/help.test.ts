import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerAllGroups } from '../../../src/cli/groups.js';
import { createProgram } from '../../../src/cli/program.js';
import { runCli } from '../../support/run-cli.js';

/** Every leaf command path, e.g. ['keys', 'create']. */
function leaves(cmd: Command, prefix: string[] = []): string[][] {
  if (cmd.commands.length === 0) return [prefix];
  return cmd.commands.flatMap((c) => leaves(c, [...prefix, c.name()]));
}

const program = createProgram(
  { out: () => undefined, err: () => undefined, env: {}, cwd: process.cwd() },
  registerAllGroups,
);
const all = leaves(program);

describe('every sealpost command has --help with an example', () => {
  it('knows the whole command set', () => {
    const names = all.map((p) => p.join(' '));
    for (const expected of [
      'keys init-authority',
      'keys create',
      'keys rotate',
      'keys revoke',
      'keys destroy-retired',
      'keys list',
      'keys rewrap',
      'directory publish',
      'directory show',
      'directory verify',
      'inspect',
      'quarantine list',
      'quarantine show',
      'quarantine release',
      'quarantine purge',
      'audit verify',
      'console',
      'audit query',
      'audit tail',
      'config check',
      'demo',
    ]) {
      expect(names).toContain(expected);
    }
  });

  for (const group of ['keys', 'directory', 'quarantine', 'audit']) {
    it(`${group} --help (group) lists its commands with an example`, async () => {
      const r = await runCli([group, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Example:\n {2}sealpost /);
      for (const path of all.filter((p) => p[0] === group)) expect(r.out).toContain(path[1]);
    });
  }

  for (const path of all) {
    it(`${path.join(' ')} --help`, async () => {
      const r = await runCli([...path, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: sealpost ${path.join(' ')}`);
      expect(r.out).toMatch(/Example:\n {2}.*sealpost /);
    });
  }
});

describe('commands owned elsewhere: one bad input each through the full program', () => {
  it('config check: bad configuration exits 2', async () => {
    const r = await runCli(['config', 'check'], { SEALPOST_KMS: 'hsm' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('SEALPOST_KMS');
  });
  it('demo: bad --kms exits 2', async () => {
    const r = await runCli(['demo', '--kms', 'hsm']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--kms must be vault or local');
  });
});
