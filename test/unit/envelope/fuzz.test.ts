import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  decoderOnMutations,
  decoderOnRandomBytes,
  type FuzzTarget,
  makeFuzzTarget,
  openerOnMutations,
} from './support/fuzz-properties.js';
import { loadProvider } from './support/providers.js';

// ≥ 50k cases in the normal run (fuzz-lite); `npm run fuzz` runs 1M+ with the same properties.
describe('envelope fuzzing (fast-check)', () => {
  let p: CryptoProvider;
  let t: FuzzTarget;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    t = makeFuzzTarget(p);
  });

  it('decoder on random bytes behind a valid frame: 25,000 cases', () => {
    fc.assert(decoderOnRandomBytes(t), { numRuns: 25_000 });
  });

  it('decoder on mutated envelopes: 25,000 cases', () => {
    fc.assert(decoderOnMutations(t), { numRuns: 25_000 });
  });

  it('opener on mutated envelopes: 5,000 cases; bounded time per input', () => {
    fc.assert(openerOnMutations(t), { numRuns: 5_000 });
    // A header open is a few public-key operations; nothing should take long.
    expect(t.maxInputMs).toBeLessThan(250);
  });
});

describe('envelope fuzzing with libsodium-wrappers (fast-check)', () => {
  it('opener on mutated envelopes: 2,000 cases, typed outcomes only', async () => {
    const t = makeFuzzTarget(await loadProvider('libsodium-wrappers'));
    fc.assert(openerOnMutations(t), { numRuns: 2_000 });
    expect(t.maxInputMs).toBeLessThan(250);
    t.opener.close();
  });
});
