/** docs/API.md's "The key directory" example is the code test/integration/directory-topic-public-api.test.ts runs. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);

describe('docs/API.md "The key directory"', () => {
  it('shows exactly the example the integration test runs', () => {
    const test = readFileSync(
      new URL('test/integration/directory-topic-public-api.test.ts', root),
      'utf8',
    );
    const doc = readFileSync(new URL('docs/API.md', root), 'utf8');
    const body = test
      .split('    // directory-example:start\n')[1]!
      .split('    // directory-example:end')[0]!
      .split('\n')
      .map((l) => (l.startsWith('    ') ? l.slice(4) : l))
      .join('\n');
    const section = doc.split('## The key directory\n')[1]!.split('\n## ')[0]!;
    const block = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    expect(block).toBe(body);
  });
});
