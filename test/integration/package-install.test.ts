/**
 * The package as users install it: `npm pack` (whose `prepack` builds dist/), unpacked into a fresh
 * project's node_modules, then imported by name and run through its `bin`. Dependencies are linked from
 * this checkout's node_modules (no registry at test time), so what is checked is our tarball: its file
 * list, `exports`, `bin` and the schema files it reads at run time.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFreshScript } from '../support/fresh-process.js';
import { REPO_ROOT } from '../support/third-party-vectors.js';

const run = promisify(execFile);
let dir: string;
let installed: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sealpost-pack-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as [{ filename: string }];
  const app = join(dir, 'app');
  const modules = join(app, 'node_modules');
  installed = join(modules, 'sealpost');
  mkdirSync(installed, { recursive: true });
  await run('tar', ['-xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1']);
  for (const name of readdirSync(join(REPO_ROOT, 'node_modules'))) {
    if (name === '.bin' || name.startsWith('.')) continue;
    symlinkSync(join(REPO_ROOT, 'node_modules', name), join(modules, name));
  }
}, 300_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('carries the built code and the schemas, and no sources, tests or local state', () => {
    const files = (sub: string): string[] =>
      readdirSync(join(installed, sub), { recursive: true }).map(String);
    expect(files('dist/src')).toContain('index.js');
    expect(files('dist/src')).toContain('index.d.ts');
    expect(files('schemas')).toContain('envelope.avsc');
    const top = readdirSync(installed).sort();
    expect(top).toEqual(expect.arrayContaining(['dist', 'package.json', 'schemas']));
    for (const absent of ['src', 'test', '.stack', 'node_modules', 'bench', 'stack'])
      expect(top).not.toContain(absent);
  });

  it('imports by name (and sealpost/testing) from a project that installed it, and reads its envelope schema', () => {
    const script = [
      "const m = await import('sealpost');",
      "const t = await import('sealpost/testing');",
      'const text = await m.readEnvelopeSchemaText();',
      'console.log(JSON.stringify({ producer: typeof m.SealedProducer, consumer: typeof m.SealedConsumer, testing: typeof t.createInMemoryTransport, schema: JSON.parse(text).name }));',
    ].join('\n');
    // Plain Node (no tsx), from the project that installed it: what a user's import sees.
    const child = runFreshScript(script, { tsx: false, cwd: join(installed, '..', '..') });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({
      producer: 'function',
      consumer: 'function',
      testing: 'function',
      schema: JSON.parse(readFileSync(join(REPO_ROOT, 'schemas/envelope.avsc'), 'utf8')).name,
    });
  });

  it('runs its bin', async () => {
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      bin: { sealpost: string };
    };
    const { stdout } = await run(process.execPath, [join(installed, pkg.bin.sealpost), '--help'], {
      cwd: dir,
    });
    expect(stdout).toContain('Usage: sealpost');
    expect(stdout).toContain('quarantine');
  });
});
