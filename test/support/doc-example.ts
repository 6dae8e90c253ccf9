/**
 * The example a documentation page shows, as the integration test that runs it marks it: the lines
 * between `// example:imports:start` and `// example:imports:end` (the relative import of src/index
 * written as `'sealpost'`), a blank line, then the body between `  // example:start` and
 * `  // example:end`, unindented by two spaces. The doc tests compare a page's block with it.
 */
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);

/** The repository file at `path` (relative to the repository root). */
export const repoFile = (path: string): string => readFileSync(new URL(path, root), 'utf8');

/** The marked example of the test file at `testPath`, as a page must show it. */
export function markedExample(testPath: string): string {
  const test = repoFile(testPath);
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
  return `${imports}\n${body}\n`;
}
