/** The 10 ed25519-speccheck cases: libsodium's strict verify accepts index 3 only, in both providers. */
import { describe, expect, it } from 'vitest';

import {
  LIBSODIUM_SPECCHECK_VERDICTS,
  SPECCHECK_CASES,
  SPECCHECK_CASE_COUNT,
  speccheckVerdicts,
} from '../../support/speccheck.js';
import { PROVIDER_NAMES, provider } from './support/providers.js';

describe('ed25519-speccheck cases', () => {
  it('load all 10 cases with well-sized keys and signatures', () => {
    expect(SPECCHECK_CASES).toHaveLength(SPECCHECK_CASE_COUNT);
    for (const c of SPECCHECK_CASES) {
      expect([c.publicKey.length, c.signature.length]).toEqual([32, 64]);
    }
    expect(LIBSODIUM_SPECCHECK_VERDICTS).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe.each(PROVIDER_NAMES)('ed25519-speccheck through %s', (name) => {
  it('verifyDetached accepts case index 3 only', async () => {
    const p = await provider(name);
    expect(speccheckVerdicts((sig, msg, pk) => p.verifyDetached(sig, msg, pk))).toEqual(
      LIBSODIUM_SPECCHECK_VERDICTS,
    );
  });
});
