/**
 * The X-Wing KEM as HPKE uses it (KEM id 0x647A, draft-ietf-hpke-pq; vectors vendored under
 * test/vectors/third-party/hpke-pq/): the KEM part of every 0x647A vector through both providers —
 * the public key from the secret seed, encapsulation with the vector's randomness (ikmE is X-Wing's
 * 64-byte eseed) to the vector's ciphertext and shared secret, and decapsulation back. The HPKE key
 * schedule and AEAD above the KEM are not sealpost's and are not run.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import type { CryptoProvider, CryptoProviderName } from '../../../src/crypto/provider.js';
import { fromHex, readThirdPartyVectorJson, toHex } from '../../support/third-party-vectors.js';
import { PROVIDER_NAMES, provider } from './support/providers.js';

interface HpkeVector {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  ikmE: string;
  skRm: string;
  pkRm: string;
  enc: string;
  shared_secret: string;
}

const XWING_KEM_ID = 0x647a;
const ALL = readThirdPartyVectorJson('hpke-pq/test-vectors.json') as HpkeVector[];
const XWING = ALL.filter((v) => v.kem_id === XWING_KEM_ID);
const label = (v: HpkeVector) =>
  `mode ${v.mode}, KDF 0x${v.kdf_id.toString(16)}, AEAD 0x${v.aead_id.toString(16)}`;

describe('HPKE X-Wing (0x647A) vectors file', () => {
  it('holds X-Wing vectors with the X-Wing sizes', () => {
    expect(XWING.length).toBeGreaterThanOrEqual(2);
    for (const v of XWING) {
      expect([v.ikmE, v.skRm, v.pkRm, v.enc, v.shared_secret].map((h) => h.length / 2)).toEqual([
        64, 32, 1216, 1120, 32,
      ]);
    }
  });
});

describe.each(PROVIDER_NAMES)(
  'HPKE X-Wing (0x647A) KEM vectors (%s)',
  (name: CryptoProviderName) => {
    let p: CryptoProvider;
    beforeAll(async () => {
      p = await provider(name);
    });

    it.each(XWING.map((v) => [label(v), v] as const))(
      '%s: key pair, encapsulation, decapsulation',
      (_, v) => {
        const seed = fromHex(v.skRm);
        expect(toHex(p.xwingKeyPairFromSeed(seed).publicKey)).toBe(v.pkRm);
        const enc = p.xwingEncapsulateDeterministic(fromHex(v.pkRm), fromHex(v.ikmE));
        expect([toHex(enc.ciphertext), toHex(enc.sharedSecret)]).toEqual([v.enc, v.shared_secret]);
        expect(toHex(p.xwingDecapsulate(fromHex(v.enc), seed))).toBe(v.shared_secret);
        const dk = p.xwingDecapsulationKey(seed);
        expect(toHex(dk.decapsulate(fromHex(v.enc)))).toBe(v.shared_secret);
        dk.destroy();
      },
    );
  },
);
