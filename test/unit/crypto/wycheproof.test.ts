/**
 * Wycheproof (C2SP, testvectors_v1) X25519, Ed25519 and XChaCha20-Poly1305 vectors through both
 * providers. Every case is run and counted, so a missing or truncated file fails loudly.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  type CryptoProvider,
} from '../../../src/crypto/provider.js';
import { fromHex, readThirdPartyVectorJson, toHex } from '../../support/third-party-vectors.js';
import { expectCryptoError } from './support/expect-crypto-error.js';
import { PROVIDER_NAMES, provider } from './support/providers.js';

type Result = 'valid' | 'invalid' | 'acceptable';

interface XdhCase {
  tcId: number;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: Result;
}
interface EddsaGroup {
  publicKey: { pk: string };
  tests: { tcId: number; msg: string; sig: string; result: Result; flags: string[] }[];
}
interface AeadGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: {
    tcId: number;
    key: string;
    iv: string;
    aad: string;
    msg: string;
    ct: string;
    tag: string;
    result: Result;
    flags: string[];
  }[];
}
interface WycheproofFile<G> {
  numberOfTests: number;
  testGroups: G[];
}

const x25519 = readThirdPartyVectorJson('wycheproof/x25519_test.json') as WycheproofFile<{
  tests: XdhCase[];
}>;
const ed25519 = readThirdPartyVectorJson(
  'wycheproof/ed25519_test.json',
) as WycheproofFile<EddsaGroup>;
const xchacha = readThirdPartyVectorJson(
  'wycheproof/xchacha20_poly1305_test.json',
) as WycheproofFile<AeadGroup>;

// Pinned counts (vectors README: commit dac1dd4): a changed or partial file must not pass silently.
const X25519_CASES = 518;
const X25519_ZERO_SHARED = 31;
const ED25519_CASES = 151;
const XCHACHA_CASES = 315;
const XCHACHA_BAD_NONCE_CASES = 9;

const isZeroHex = (h: string): boolean => /^(00)+$/.test(h);

describe('wycheproof files', () => {
  it('hold the pinned number of cases', () => {
    const count = <G extends { tests: unknown[] }>(f: WycheproofFile<G>): number =>
      f.testGroups.reduce((n, g) => n + g.tests.length, 0);
    expect([count(x25519), x25519.numberOfTests]).toEqual([X25519_CASES, X25519_CASES]);
    expect([count(ed25519), ed25519.numberOfTests]).toEqual([ED25519_CASES, ED25519_CASES]);
    expect([count(xchacha), xchacha.numberOfTests]).toEqual([XCHACHA_CASES, XCHACHA_CASES]);
  });
});

describe.each(PROVIDER_NAMES)('wycheproof through %s', (name) => {
  let p: CryptoProvider;
  beforeAll(async () => {
    p = await provider(name);
  });

  it('X25519: every case gives the expected shared secret; all-zero results are refused', () => {
    let run = 0;
    let refused = 0;
    const cases = x25519.testGroups.flatMap((g) => g.tests);
    const recipient = p.boxKeyPair();
    for (const t of cases) {
      const sk = fromHex(t.private);
      const pk = fromHex(t.public);
      const shared = p.scalarMult(sk, pk);
      if (isZeroHex(t.shared)) {
        // Low-order public key: Wycheproof says "acceptable", sealpost refuses — here and in boxSeal.
        expect(shared, `tcId ${t.tcId}`).toBeNull();
        expectCryptoError(
          () => p.boxSeal(new Uint8Array(80), pk),
          'CRYPTO_LOW_ORDER_KEY',
          `tcId ${t.tcId}`,
        );
        // ...and a sealed box whose ephemeral key is that point does not open.
        const forged = new Uint8Array(32 + 96);
        forged.set(pk);
        forged.set(p.randomBytes(96), 32);
        expect(
          p.boxSealOpen(forged, recipient.publicKey, recipient.secretKey),
          `tcId ${t.tcId}`,
        ).toBeNull();
        refused++;
      } else {
        // valid and acceptable (twist, non-canonical) cases: libsodium computes the RFC 7748 result.
        expect(shared, `tcId ${t.tcId}`).not.toBeNull();
        expect(toHex(shared!), `tcId ${t.tcId} ${t.flags.join(',')}`).toBe(t.shared);
      }
      run++;
    }
    expect(run).toBe(X25519_CASES);
    expect(refused).toBe(X25519_ZERO_SHARED);
  });

  it('Ed25519: verifyDetached gives every expected verdict (wrong-size signatures: typed error)', () => {
    let run = 0;
    let badLength = 0;
    for (const g of ed25519.testGroups) {
      const pk = fromHex(g.publicKey.pk);
      for (const t of g.tests) {
        const sig = fromHex(t.sig);
        const msg = fromHex(t.msg);
        let verdict: boolean;
        if (sig.length !== 64) {
          // A truncated or over-long signature never reaches libsodium (which would ignore a tail).
          expectCryptoError(
            () => p.verifyDetached(sig, msg, pk),
            'CRYPTO_BAD_LENGTH',
            `tcId ${t.tcId}`,
          );
          badLength++;
          verdict = false;
        } else {
          verdict = p.verifyDetached(sig, msg, pk);
        }
        expect(verdict, `tcId ${t.tcId} ${t.flags.join(',')}`).toBe(t.result === 'valid');
        run++;
      }
    }
    expect(run).toBe(ED25519_CASES);
    expect(badLength).toBeGreaterThan(0);
  });

  it('XChaCha20-Poly1305: every case through aeadDecrypt and aeadEncrypt; bad nonce sizes throw', () => {
    let run = 0;
    let badNonce = 0;
    for (const g of xchacha.testGroups) {
      expect(g.keySize).toBe(AEAD_KEY_BYTES * 8);
      expect(g.tagSize).toBe(AEAD_TAG_BYTES * 8);
      for (const t of g.tests) {
        const key = fromHex(t.key);
        const nonce = fromHex(t.iv);
        const aad = fromHex(t.aad);
        const msg = fromHex(t.msg);
        expect(nonce.length * 8, `tcId ${t.tcId}`).toBe(g.ivSize);
        if (g.ivSize !== AEAD_NONCE_BYTES * 8) {
          expect(t.result).toBe('invalid');
          // Everything else well-formed, so the nonce is what gets refused.
          const encrypt = (): void =>
            p.aeadEncrypt(new Uint8Array(msg.length + 16), msg, aad, nonce, key);
          const decrypt = (): boolean =>
            p.aeadDecrypt(new Uint8Array(0), new Uint8Array(16), aad, nonce, key);
          expectCryptoError(encrypt, 'CRYPTO_BAD_LENGTH', `tcId ${t.tcId} encrypt`);
          expectCryptoError(decrypt, 'CRYPTO_BAD_LENGTH', `tcId ${t.tcId} decrypt`);
          badNonce++;
          run++;
          continue;
        }
        const sealed = fromHex(t.ct + t.tag);
        const out = new Uint8Array(sealed.length - AEAD_TAG_BYTES);
        const opened = p.aeadDecrypt(out, sealed, aad, nonce, key);
        expect(opened, `tcId ${t.tcId} ${t.flags.join(',')}`).toBe(t.result === 'valid');
        if (t.result === 'valid') {
          expect(toHex(out)).toBe(t.msg);
          const ct = new Uint8Array(msg.length + AEAD_TAG_BYTES);
          p.aeadEncrypt(ct, msg, aad, nonce, key);
          expect(toHex(ct), `tcId ${t.tcId}`).toBe(t.ct + t.tag);
        }
        run++;
      }
    }
    expect(run).toBe(XCHACHA_CASES);
    expect(badNonce).toBe(XCHACHA_BAD_NONCE_CASES);
  });
});
