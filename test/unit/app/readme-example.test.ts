/** The README's example is the code test/integration/sealpost-setup-example.test.ts runs. */
import { describe, expect, it } from 'vitest';
import { markedExample, repoFile } from '../../support/doc-example.js';

describe('README.md', () => {
  it('shows exactly the createSealpost example the integration test runs', () => {
    const example = markedExample('test/integration/sealpost-setup-example.test.ts');
    const section = repoFile('README.md').split('## Producer and consumer in a few lines')[1]!;
    const block = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    expect(block).toBe(example);
    // A handful of lines: the setup is one call per service.
    expect(block.split('\n').filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(20);
  });
});
