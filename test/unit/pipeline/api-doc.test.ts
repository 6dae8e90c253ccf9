/** docs/API.md's example is the code test/integration/pipeline-api-example.test.ts runs. */
import { readFileSync } from 'node:fs';
import { PIPELINE_ERROR_CODES } from '../../../src/pipeline/pipeline-error.js';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);

describe('docs/API.md', () => {
  it('shows exactly the example the integration test runs', () => {
    const test = readFileSync(
      new URL('test/integration/pipeline-api-example.test.ts', root),
      'utf8',
    );
    const doc = readFileSync(new URL('docs/API.md', root), 'utf8');
    const imports = test
      .split('// example:imports:start\n')[1]!
      .split('// example:imports:end')[0]!
      .replace("'../../src/index.js'", "'sealpost'");
    const body = test
      .split('  // example:start\n')[1]!
      .split('  // example:end')[0]!
      .split('\n')
      .map((l) => (l.startsWith('  ') ? l.slice(2) : l))
      .join('\n')
      .trimEnd();
    const block = /```ts\n([\s\S]*?)```/.exec(doc)![1]!;
    expect(block).toBe(`${imports}\n${body}\n`);
    expect(block.split('\n').length).toBeLessThanOrEqual(35);
  });

  it('lists every pipeline error code', () => {
    const doc = readFileSync(new URL('docs/API.md', root), 'utf8');
    const codes = Object.keys(PIPELINE_ERROR_CODES);
    expect(codes.length).toBeGreaterThan(5);
    for (const c of codes) expect(doc).toContain(`| \`${c}\` |`);
  });
});
