/**
 * #21 deliverable 1: every procedure of docs/OPERATIONS.md runs as a test. Each numbered step and each
 * sh block of the other sections must be run by an integration test through the guide extractor
 * (`guideStepCommands('N')` / `guide('N')`, `guideSectionCommands('S', n)` / `guideSection('S', n)`),
 * so a procedure added to the guide without a test, or a test that stops running one, fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  guideProcedures,
  guideSectionCommands,
  guideStepCommands,
} from '../../support/operations-guide.js';

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

describe('docs/OPERATIONS.md procedures are tests', () => {
  it('lists the numbered steps and the other sections’ command blocks, each with commands', () => {
    const procedures = guideProcedures();
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
    expect(guideProcedures().filter((p) => !covered.has(p))).toEqual([]);
  });
});
