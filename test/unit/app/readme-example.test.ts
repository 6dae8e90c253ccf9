/** The README's example is the code test/integration/sealpost-setup-example.test.ts runs. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);

describe('README.md', () => {
  it('shows exactly the createSealpost example the integration test runs', () => {
    const test = readFileSync(
      new URL('test/integration/sealpost-setup-example.test.ts', root),
      'utf8',
    );
    const readme = readFileSync(new URL('README.md', root), 'utf8');
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
    const section = readme.split('## Producer and consumer in a few lines')[1]!;
    const block = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    expect(block).toBe(`${imports}\n${body}\n`);
    // A handful of lines: the setup is one call per service.
    expect(block.split('\n').filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(20);
  });
});
