/**
 * The suite-2 vectors (test/vectors/xwing-*.vector) are made with deterministic X-Wing
 * encapsulation, so both providers must rebuild them byte for byte: sealing is byte-compatible
 * across providers, not only opening. (vectors.test.ts opens every file through both providers.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';
import { buildSuite2Vectors } from './support/suite2-vectors.js';
import { formatVector, parseVector } from './support/vector-file.js';

const DIR = new URL('../../vectors/', import.meta.url);
const committed = readdirSync(DIR)
  .filter((f) => f.startsWith('xwing-') && f.endsWith('.vector'))
  .sort();

describe('suite-2 envelope vectors', () => {
  it('cover success, not-addressed and every coarse class with a suite-2 record', () => {
    const expects = committed.map((f) => parseVector(f, readFileSync(new URL(f, DIR), 'utf8')));
    expect(expects.every((v) => v.suite === 2)).toBe(true);
    const kinds = new Set(expects.map((v) => v.expect.split(':')[0]));
    expect([...kinds].sort()).toEqual([
      'HEADER',
      'MALFORMED',
      'MESSAGE',
      'STALE',
      'not-addressed',
      'success',
    ]);
  });

  it.each(PROVIDER_NAMES)(
    '%s rebuilds every committed suite-2 vector byte for byte',
    async (name) => {
      const p = await loadProvider(name);
      const built = buildSuite2Vectors(p);
      expect(built.map((v) => `${v.name}.vector`).sort()).toEqual(committed);
      for (const v of built) {
        const file = readFileSync(new URL(`${v.name}.vector`, DIR), 'utf8');
        expect(file, v.name).toBe(
          `# sealpost envelope test vector (scripts/make-vectors.ts)\n${formatVector(v)}`,
        );
      }
    },
  );
});
