/**
 * docs/OPERATIONS.md as tests (#21 deliverable 1): every procedure marked in the guide
 * (`<!-- procedure: NAME -->` before its `sh` block) is run by a test that reads it with
 * `guideProcedure('NAME')` (test/support/operations-guide.ts). A marked procedure without such a
 * test fails here; so does a test naming a procedure the guide no longer has.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  commandsOf,
  fillPlaceholders,
  guideProcedure,
  guideProcedures,
} from '../../support/operations-guide.js';
import { REPO_ROOT } from '../../support/worker-process.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return testFiles(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Procedure name → the test files that read it. */
function testsByProcedure(): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const file of testFiles(join(REPO_ROOT, 'test'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/guideProcedure\('([a-z0-9-]+)'\)/g)) {
      if (file.endsWith('operations-guide-coverage.test.ts')) continue;
      const list = byName.get(m[1]!) ?? [];
      list.push(relative(REPO_ROOT, file));
      byName.set(m[1]!, list);
    }
  }
  return byName;
}

describe('docs/OPERATIONS.md procedures', () => {
  it('every marked procedure has a test that runs it', () => {
    const procedures = guideProcedures();
    expect(procedures.length).toBeGreaterThan(0);
    const tests = testsByProcedure();
    const untested = procedures
      .filter((p) => !tests.has(p.name))
      .map((p) => `${p.name} (docs/OPERATIONS.md line ${p.line})`);
    expect(untested).toEqual([]);
  });

  it('every procedure a test reads is marked in the guide', () => {
    const marked = new Set(guideProcedures().map((p) => p.name));
    const missing = [...testsByProcedure().entries()]
      .filter(([name]) => !marked.has(name))
      .map(([name, files]) => `${name} (read by ${files.join(', ')})`);
    expect(missing).toEqual([]);
  });
});

describe('the harness', () => {
  const doc = [
    'text',
    '<!-- procedure: two-steps -->',
    '```sh',
    'sealpost a --x 1   # comment',
    '',
    'sealpost b \\',
    "  --grant 'x#y' \\",
    '  --z <port>',
    '```',
  ].join('\n');

  it('reads a marked block: comments and blank lines dropped, continuations joined', () => {
    expect(guideProcedure('two-steps', doc)).toEqual([
      'sealpost a --x 1',
      "sealpost b --grant 'x#y' --z <port>",
    ]);
    expect(() => guideProcedure('absent', doc)).toThrow(/no procedure marked absent/);
    expect(commandsOf(['a # b', '# only a comment', 'c'])).toEqual(['a', 'c']);
  });

  it('fills placeholders and refuses what is not runnable as written', () => {
    expect(fillPlaceholders('kill -TERM <pid>', { pid: '42' })).toBe('kill -TERM 42');
    expect(() => fillPlaceholders('kill -TERM <pid>', {})).toThrow(/no value for <pid>/);
    expect(() => fillPlaceholders('sealpost directory publish --grant …', {})).toThrow(/…/);
  });

  it('refuses a marker that is not followed by an sh block, and a name marked twice', () => {
    expect(() => guideProcedures('<!-- procedure: x -->\ntext\n')).toThrow(/must open/);
    const twice = '<!-- procedure: x -->\n```sh\na\n```\n<!-- procedure: x -->\n```sh\nb\n```\n';
    expect(() => guideProcedures(twice)).toThrow(/marked twice/);
  });
});
