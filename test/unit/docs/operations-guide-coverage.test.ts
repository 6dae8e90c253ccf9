/**
 * docs/OPERATIONS.md as tests (#21 deliverable 1): every procedure marked in the guide
 * (`<!-- procedure: NAME -->` before its `sh` block) is run by a test that reads it with
 * `guideProcedure('NAME')` (test/support/operations-guide.ts). A marked procedure without such a
 * test fails here; so does a test naming a procedure the guide no longer has. Likewise every numbered
 * step of the key lifecycle and every sh block of the other sections must be run by an integration
 * test through `guideStepCommands('N')` / `guide('N')` or `guideSectionCommands('S', n)` /
 * `guideSection('S', n)` (test/support/live-services.ts runs them against live services).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  commandsOf,
  fillPlaceholders,
  guideProcedure,
  guideProcedures,
  guideSectionCommands,
  guideStepCommands,
  guideStepsAndSections,
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

const INTEGRATION = join(import.meta.dirname, '../../integration');

function integrationSources(): string {
  return readdirSync(INTEGRATION)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => readFileSync(join(INTEGRATION, f), 'utf8'))
    .join('\n');
}

/** The ids of the procedures the integration tests run through the extractor. */
function coveredProcedures(source: string): Set<string> {
  const covered = new Set<string>();
  for (const m of source.matchAll(/(?:guideStepCommands|guide)\('(\d+)'\)/g)) covered.add(m[1]!);
  for (const m of source.matchAll(/(?:guideSectionCommands|guideSection)\('([^']+)', (\d+)\)/g))
    covered.add(`${m[1]} ${m[2]}`);
  return covered;
}

describe('docs/OPERATIONS.md numbered steps and section blocks are tests', () => {
  it('lists the numbered steps and the other sections’ command blocks, each with commands', () => {
    const procedures = guideStepsAndSections();
    expect(procedures.filter((p) => /^\d+$/.test(p))).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(procedures).toContain('Quarantine 1');
    expect(procedures).toContain('Quarantine 2');
    expect(procedures).toContain('Audit log 1');
    for (const p of procedures) {
      const m = /^(.+) (\d+)$/.exec(p);
      const commands = m ? guideSectionCommands(m[1]!, Number(m[2])) : guideStepCommands(p);
      expect(commands.length, p).toBeGreaterThan(0);
    }
  });

  it('steps 4 and 6 publish with the same grants as step 3 ("the same grants as before")', () => {
    const publishOf = (step: string) =>
      guideStepCommands(step).filter((argv) => argv[0] === 'directory' && argv[1] === 'publish');
    const [publish] = publishOf('3');
    expect(publish).toBeDefined();
    for (const step of ['4', '6']) expect(publishOf(step), `step ${step}`).toEqual([publish]);
  });

  it('every procedure is run by an integration test through the guide extractor', () => {
    const covered = coveredProcedures(integrationSources());
    expect(guideStepsAndSections().filter((p) => !covered.has(p))).toEqual([]);
  });
});
