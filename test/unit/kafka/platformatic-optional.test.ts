/**
 * @platformatic/kafka is an optional peer dependency (docs/TRANSPORTS.md): nothing the package's main
 * entry (or `sealpost/testing`) loads at run time may import it, or users without it (Node 20) break
 * on `import 'sealpost'`. Follows every value import (type-only imports are erased) from the entries
 * through src/ and checks that none reaches the package; the adapter is reached by a dynamic import
 * (src/app/compose.ts) or the `sealpost/platformatic` entry only.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../../src');

/** The module specifiers a file imports at load time (static, non-type-only imports and re-exports). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const pattern = /^(?:import|export)\s+(?!type\s)([^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gms;
  for (const m of text.matchAll(pattern)) {
    const clause = m[1] ?? '';
    // `import { type A, type B } from` is erased too.
    const names = /\{([^}]*)\}/s.exec(clause)?.[1];
    if (
      names !== undefined &&
      !/\*|^\s*\w/.test(
        clause
          .replace(/\{[^}]*\}/s, '')
          .replace(/\sfrom\s+$/, '')
          .trim(),
      ) &&
      names.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))
    )
      continue;
    out.push(m[2]!);
  }
  return out;
}

function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = [resolve(SRC, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const specs = valueImports(file);
    seen.set(file, specs);
    for (const spec of specs) {
      if (!spec.startsWith('.')) continue;
      queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  }
  return seen;
}

describe('@platformatic/kafka stays optional', () => {
  for (const entry of ['index.ts', 'testing.ts']) {
    it(`src/${entry} does not load it`, () => {
      const files = reachable(entry);
      expect(files.size).toBeGreaterThan(entry === 'index.ts' ? 50 : 3);
      const importers = [...files]
        .filter(([, specs]) => specs.some((s) => s.startsWith('@platformatic/kafka')))
        .map(([file]) => file);
      expect(importers).toEqual([]);
    });
  }

  it('the sealpost/platformatic entry does (the check sees a value import when there is one)', () => {
    const files = reachable('platformatic.ts');
    const importers = [...files]
      .filter(([, specs]) => specs.some((s) => s.startsWith('@platformatic/kafka')))
      .map(([file]) => file.slice(SRC.length + 1));
    expect(importers.sort()).toEqual([
      'kafka/platformatic-admin.ts',
      'kafka/platformatic-consumer.ts',
      'kafka/platformatic-producer.ts',
    ]);
  });
});
