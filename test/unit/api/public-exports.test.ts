/**
 * The package's public API is exactly what docs/API.md "What the package exports" lists: the run-time
 * exports of `sealpost` (src/index.ts) and `sealpost/testing` (src/testing.ts), named only.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sealpost from '../../../src/index.js';
import * as platformatic from '../../../src/platformatic.js';
import * as testing from '../../../src/testing.js';

const api = readFileSync(new URL('../../../docs/API.md', import.meta.url), 'utf8');

/** The names listed under `entry` in the exports block (`group: Name Name ...`, continued lines). */
function listed(entry: string): string[] {
  const section = api.split('## What the package exports')[1]!;
  const block = /```text\n([\s\S]*?)```/.exec(section)![1]!;
  const names: string[] = [];
  let current: string | undefined;
  for (const line of block.split('\n')) {
    if (line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      current = line.trim();
      continue;
    }
    if (current !== entry) continue;
    const words = line.includes(':') ? line.slice(line.indexOf(':') + 1) : line;
    names.push(...words.trim().split(/\s+/));
  }
  return names.sort();
}

describe('the public API is the documented one', () => {
  it('sealpost exports exactly the names docs/API.md lists', () => {
    const documented = listed('sealpost');
    expect(new Set(documented).size).toBe(documented.length);
    expect(Object.keys(sealpost).sort()).toEqual(documented);
    expect(sealpost).not.toHaveProperty('default');
  });

  it('sealpost/testing exports exactly the names docs/API.md lists, and none of them leaks into sealpost', () => {
    const documented = listed('sealpost/testing');
    expect(Object.keys(testing).sort()).toEqual(documented);
    for (const name of documented) expect(sealpost).not.toHaveProperty(name);
  });

  it('sealpost/platformatic exports exactly the names docs/API.md lists, and none of them leaks into sealpost', () => {
    const documented = listed('sealpost/platformatic');
    expect(Object.keys(platformatic).sort()).toEqual(documented);
    for (const name of documented) expect(sealpost).not.toHaveProperty(name);
  });

  it('every name the docs show in an import from the package is exported', () => {
    const imports = [...api.matchAll(/import \{([^}]*)\} from '(sealpost(?:\/testing)?)'/g)];
    expect(imports.length).toBeGreaterThan(0);
    for (const [, names, from] of imports) {
      const mod: object = from === 'sealpost' ? sealpost : testing;
      for (const name of names!
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''))
        expect(mod, `${name} from ${from}`).toHaveProperty(name);
    }
  });
});
