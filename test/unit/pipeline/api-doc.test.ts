/** docs/API.md's example is the code test/integration/pipeline-api-example.test.ts runs. */
import { PIPELINE_ERROR_CODES } from '../../../src/pipeline/pipeline-error.js';
import { describe, expect, it } from 'vitest';
import { markedExample, repoFile } from '../../support/doc-example.js';

describe('docs/API.md', () => {
  it('shows exactly the example the integration test runs', () => {
    const example = markedExample('test/integration/pipeline-api-example.test.ts');
    const block = /```ts\n([\s\S]*?)```/.exec(repoFile('docs/API.md'))![1]!;
    expect(block).toBe(example);
    expect(block.split('\n').length).toBeLessThanOrEqual(35);
  });

  it('lists every pipeline error code', () => {
    const doc = repoFile('docs/API.md');
    const codes = Object.keys(PIPELINE_ERROR_CODES);
    expect(codes.length).toBeGreaterThan(5);
    for (const c of codes) expect(doc).toContain(`| \`${c}\` |`);
  });
});
