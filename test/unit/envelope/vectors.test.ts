import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { openVector } from './support/open-vector.js';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';
import { parseVector } from './support/vector-file.js';

const DIR = new URL('../../vectors/', import.meta.url);
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.vector'))
  .sort();

describe('test/vectors', () => {
  it('holds golden envelopes and failures of every coarse class the pure module produces', () => {
    const expects = files.map((f) => parseVector(f, readFileSync(new URL(f, DIR), 'utf8')).expect);
    expect(expects.filter((e) => e === 'success').length).toBeGreaterThanOrEqual(5);
    // A version-2 body with a trace context (docs/SPEC.md §2.1) next to the version-1 ones.
    expect(
      files.some(
        (f) => parseVector(f, readFileSync(new URL(f, DIR), 'utf8')).traceContext !== undefined,
      ),
    ).toBe(true);
    for (const cls of ['MALFORMED', 'CONTEXT', 'HEADER', 'STALE', 'MESSAGE'])
      expect(expects.some((e) => e.startsWith(`${cls}:`))).toBe(true);
  });
});

describe.each(PROVIDER_NAMES)('test/vectors (%s)', (providerName) => {
  let p: CryptoProvider;
  beforeAll(async () => {
    p = await loadProvider(providerName);
  });

  it.each(files)('%s', (file) => {
    const v = parseVector(file, readFileSync(new URL(file, DIR), 'utf8'));
    const { outcome, delivered } = openVector(p, v);
    expect(outcome).toBe(v.expect);
    if (v.expect === 'success') {
      expect(delivered).toBeDefined();
      expect(Buffer.from(delivered!.payload).toString('hex')).toBe(
        Buffer.from(v.payload!).toString('hex'),
      );
      expect(delivered!.contentType).toBe(v.contentType);
      expect(delivered!.senderIdentity).toBe(v.sender);
      // docs/SPEC.md §2.1: a version-2 body's trace context, or none for a version-1 body.
      const tc = delivered!.traceContext;
      expect(
        tc === undefined
          ? undefined
          : Buffer.concat([Buffer.of(0), tc.traceId, tc.spanId, Buffer.of(tc.traceFlags)]).toString(
              'hex',
            ),
      ).toBe(
        v.traceContext === undefined ? undefined : Buffer.from(v.traceContext).toString('hex'),
      );
    }
  });
});
