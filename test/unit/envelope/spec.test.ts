import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { ENVELOPE_ERROR_CLASSES, LABELS } from '../../../src/envelope/index.js';
import { openVector } from './support/open-vector.js';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';
import { parseVector } from './support/vector-file.js';

const spec = readFileSync(new URL('../../../docs/SPEC.md', import.meta.url), 'utf8');

describe('docs/SPEC.md agrees with the code', () => {
  it('lists exactly the labels the code uses', () => {
    const inSpec = [...spec.matchAll(/^\| `L\(([a-z-]+)\)` \|/gm)].map((m) => m[1]).sort();
    const inCode = Object.values(LABELS)
      .map((b) => new TextDecoder().decode(b.subarray(0, b.length - 1)).replace('sealpost/v1/', ''))
      .sort();
    expect(inSpec).toEqual(inCode);
    for (const b of Object.values(LABELS)) expect(b[b.length - 1]).toBe(0);
  });

  it('has one row per rejection code with the right coarse class', () => {
    const rows = [
      ...spec.matchAll(
        /^\| ([A-Z_]+) \| (MALFORMED|CONTEXT|HEADER|MESSAGE|STALE|SCHEMA|PAYLOAD) \|/gm,
      ),
    ].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(ENVELOPE_ERROR_CLASSES);
    expect(rows.length).toBe(Object.keys(ENVELOPE_ERROR_CLASSES).length);
  });

  it('its worked example is the golden vector file', () => {
    const block = /```sealpost-vector\n([\s\S]*?)```/.exec(spec)?.[1];
    expect(block).toBeDefined();
    const file = readFileSync(
      new URL('../../vectors/golden-basic.vector', import.meta.url),
      'utf8',
    );
    expect(block!.trim()).toBe(file.trim());
  });
});

describe.each(PROVIDER_NAMES)('docs/SPEC.md worked example (%s)', (providerName) => {
  let p: CryptoProvider;
  beforeAll(async () => {
    p = await loadProvider(providerName);
  });

  it('decodes and opens to the stated payload', () => {
    const block = /```sealpost-vector\n([\s\S]*?)```/.exec(spec)![1]!;
    const v = parseVector('SPEC.md', block);
    const { outcome, delivered } = openVector(p, v);
    expect(outcome).toBe('success');
    expect(new TextDecoder().decode(delivered!.payload)).toBe('hello, sealpost');
    expect(delivered!.contentType).toBe('application/vnd.sealpost.example+avro');
    expect(delivered!.senderIdentity).toBe('alice');
  });
});
