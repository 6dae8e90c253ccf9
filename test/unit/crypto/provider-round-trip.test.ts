/** Round trips, known answers and cross-provider byte compatibility of the two crypto providers. */
import { createHash, createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { fromHex, toHex } from '../../support/third-party-vectors.js';
import { expectCryptoError } from './support/expect-crypto-error.js';
import { PROVIDER_NAMES, provider } from './support/providers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

// RFC 8032 §7.1 TEST 1 (empty message) and TEST 2 (one byte 0x72).
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
];
// RFC 7693 Appendix A: BLAKE2b-512("abc").
const BLAKE2B_512_ABC =
  'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923';
// DER prefixes that wrap a raw 32-byte X25519 key for node:crypto (an independent implementation).
const X25519_PKCS8_PREFIX = '302e020100300506032b656e04220420';
const X25519_SPKI_PREFIX = '302a300506032b656e032100';

/** X25519 computed by Node's OpenSSL, to check libsodium against a second implementation. */
function opensslX25519(secretKey: Uint8Array, publicKey: Uint8Array): string {
  const privateKey = createPrivateKey({
    key: Buffer.from(X25519_PKCS8_PREFIX + toHex(secretKey), 'hex'),
    format: 'der',
    type: 'pkcs8',
  });
  const pub = createPublicKey({
    key: Buffer.from(X25519_SPKI_PREFIX + toHex(publicKey), 'hex'),
    format: 'der',
    type: 'spki',
  });
  return diffieHellman({ privateKey, publicKey: pub }).toString('hex');
}

describe.each(PROVIDER_NAMES)('%s', (name) => {
  let p: CryptoProvider;
  beforeAll(async () => {
    p = await provider(name);
  });

  it('reports its name', () => {
    expect(p.name).toBe(name);
  });

  it('random: fills and allocates the requested sizes, different each time', () => {
    const a = p.randomBytes(32);
    const b = new Uint8Array(32);
    p.randomFill(b);
    expect(a).toHaveLength(32);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(p.randomBytes(0)).toHaveLength(0);
    const big = p.randomBytes(10_000); // larger than the pool: served straight from the source
    expect(new Set(big).size).toBeGreaterThan(200);
  });

  it('sealed box: round trip for 0..1000-byte messages, 48 bytes of overhead', () => {
    const kp = p.boxKeyPair();
    expect([kp.publicKey.length, kp.secretKey.length]).toEqual([32, 32]);
    expect(toHex(p.boxPublicKeyFromSecret(kp.secretKey))).toBe(toHex(kp.publicKey));
    for (const len of [0, 1, 80, 1000]) {
      const m = p.randomBytes(len);
      const c = p.boxSeal(m, kp.publicKey);
      expect(c).toHaveLength(len + 48);
      expect(toHex(p.boxSealOpen(c, kp.publicKey, kp.secretKey)!)).toBe(toHex(m));
    }
  });

  it('sealed box: wrong key, any flipped bit or truncation does not open', () => {
    const kp = p.boxKeyPair();
    const other = p.boxKeyPair();
    const c = p.boxSeal(enc('seed and mac key'), kp.publicKey);
    expect(p.boxSealOpen(c, other.publicKey, other.secretKey)).toBeNull();
    expect(p.boxSealOpen(c, kp.publicKey, other.secretKey)).toBeNull();
    for (let i = 0; i < c.length * 8; i += 7) {
      const t = Uint8Array.from(c);
      t[i >> 3]! ^= 1 << (i & 7);
      expect(p.boxSealOpen(t, kp.publicKey, kp.secretKey)).toBeNull();
    }
    expect(p.boxSealOpen(c.subarray(0, c.length - 1), kp.publicKey, kp.secretKey)).toBeNull();
  });

  it('X25519: agrees with OpenSSL and between two random key pairs; the zero point is refused', () => {
    for (let i = 0; i < 20; i++) {
      const a = p.boxKeyPair();
      const b = p.boxKeyPair();
      const ab = p.scalarMult(a.secretKey, b.publicKey);
      expect(ab).not.toBeNull();
      expect(toHex(ab!)).toBe(toHex(p.scalarMult(b.secretKey, a.publicKey)!));
      expect(toHex(ab!)).toBe(opensslX25519(a.secretKey, b.publicKey));
    }
    expect(p.scalarMult(p.boxKeyPair().secretKey, new Uint8Array(32))).toBeNull();
  });

  it('Ed25519: RFC 8032 known answers, round trip, tampering rejected', () => {
    for (const v of RFC8032) {
      const kp = p.signKeyPairFromSeed(fromHex(v.seed));
      expect(toHex(kp.publicKey)).toBe(v.pk);
      expect(toHex(kp.secretKey)).toBe(v.seed + v.pk); // libsodium layout: seed ‖ public key
      const sig = p.signDetached(fromHex(v.msg), kp.secretKey);
      expect(toHex(sig)).toBe(v.sig);
      expect(p.verifyDetached(sig, fromHex(v.msg), kp.publicKey)).toBe(true);
    }
    const kp = p.signKeyPair();
    const msg = enc('header transcript');
    const sig = p.signDetached(msg, kp.secretKey);
    expect(p.verifyDetached(sig, msg, kp.publicKey)).toBe(true);
    expect(p.verifyDetached(sig, enc('header transcripT'), kp.publicKey)).toBe(false);
    expect(p.verifyDetached(sig, msg, p.signKeyPair().publicKey)).toBe(false);
    const bad = Uint8Array.from(sig);
    bad[10]! ^= 0x40;
    expect(p.verifyDetached(bad, msg, kp.publicKey)).toBe(false);
  });

  it('AEAD: round trip into caller buffers, null and empty aad agree, any change fails', () => {
    const key = p.randomBytes(32);
    const nonce = p.randomBytes(24);
    const aad = enc('sealpost/v1/aad');
    for (const len of [0, 1, 1024, 65_537]) {
      const m = p.randomBytes(len);
      const c = new Uint8Array(len + 16);
      p.aeadEncrypt(c, m, aad, nonce, key);
      const out = new Uint8Array(len);
      expect(p.aeadDecrypt(out, c, aad, nonce, key)).toBe(true);
      expect(toHex(out)).toBe(toHex(m));
    }
    const m = enc('payload');
    const c1 = new Uint8Array(m.length + 16);
    const c2 = new Uint8Array(m.length + 16);
    p.aeadEncrypt(c1, m, null, nonce, key);
    p.aeadEncrypt(c2, m, new Uint8Array(0), nonce, key);
    expect(toHex(c1)).toBe(toHex(c2));
    const c = new Uint8Array(m.length + 16);
    p.aeadEncrypt(c, m, aad, nonce, key);
    const out = new Uint8Array(m.length);
    const otherKey = Uint8Array.from(key);
    otherKey[0]! ^= 1;
    const otherNonce = Uint8Array.from(nonce);
    otherNonce[23]! ^= 1;
    expect(p.aeadDecrypt(out, c, enc('sealpost/v1/aaD'), nonce, key)).toBe(false);
    expect(p.aeadDecrypt(out, c, null, nonce, key)).toBe(false);
    expect(p.aeadDecrypt(out, c, aad, otherNonce, key)).toBe(false);
    expect(p.aeadDecrypt(out, c, aad, nonce, otherKey)).toBe(false);
    for (let i = 0; i < c.length; i++) {
      const t = Uint8Array.from(c);
      t[i]! ^= 0x80;
      expect(p.aeadDecrypt(out, t, aad, nonce, key)).toBe(false);
    }
  });

  it('BLAKE2b: RFC 7693 known answer; incremental equals one-shot; keyed differs; reset reuses the state', () => {
    const d = new Uint8Array(64);
    p.hash(d, enc('abc'));
    expect(toHex(d)).toBe(BLAKE2B_512_ABC);
    const big = p.randomBytes(5000);
    p.hash(d, big);
    expect(toHex(d)).toBe(createHash('blake2b512').update(big).digest('hex'));

    const input = p.randomBytes(3000);
    const key = p.randomBytes(32);
    for (const [outLength, k] of [
      [16, null],
      [32, null],
      [16, key],
      [64, key],
    ] as const) {
      const oneShot = new Uint8Array(outLength);
      p.hash(oneShot, input, k);
      const st = p.createHash(outLength, k);
      for (const [a, b] of [
        [0, 1],
        [1, 129],
        [129, 129],
        [129, 3000],
      ] as const) {
        st.update(input.subarray(a, b));
      }
      const inc = new Uint8Array(outLength);
      st.final(inc);
      expect(toHex(inc)).toBe(toHex(oneShot));
      // reset(): same key and length, fresh state
      st.reset();
      st.update(input);
      const again = new Uint8Array(outLength);
      st.final(again);
      expect(toHex(again)).toBe(toHex(oneShot));
    }
    const unkeyed = new Uint8Array(16);
    const keyed = new Uint8Array(16);
    p.hash(unkeyed, input);
    p.hash(keyed, input, key);
    expect(toHex(keyed)).not.toBe(toHex(unkeyed));
  });

  it('BLAKE2b: update or final after final throws CRYPTO_BAD_STATE until reset', () => {
    const st = p.createHash(32);
    st.update(enc('x'));
    st.final(new Uint8Array(32));
    expectCryptoError(() => st.update(enc('y')), 'CRYPTO_BAD_STATE');
    expectCryptoError(() => st.final(new Uint8Array(32)), 'CRYPTO_BAD_STATE');
    st.reset();
    st.update(enc('x'));
    const a = new Uint8Array(32);
    st.final(a);
    const b = new Uint8Array(32);
    p.hash(b, enc('x'));
    expect(toHex(a)).toBe(toHex(b));
    // reset() of a live (unfinished) state discards what was absorbed
    const live = p.createHash(32);
    live.update(enc('discarded'));
    live.reset();
    live.update(enc('x'));
    const c = new Uint8Array(32);
    live.final(c);
    expect(toHex(c)).toBe(toHex(b));
  });

  it('KDF: subkeys differ by id, context and key; lengths 16..64', () => {
    const key = p.randomBytes(32);
    const derive = (id: number, ctx = 'spost-v1', k = key, len = 32): string => {
      const out = new Uint8Array(len);
      p.kdfDerive(out, id, ctx, k);
      return toHex(out);
    };
    const ids = [0, 1, 2, 3, 0x7fffffff, 0x80000000, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER];
    expect(new Set(ids.map((id) => derive(id))).size).toBe(ids.length);
    expect(derive(1)).toBe(derive(1));
    expect(derive(1, 'spost-v2')).not.toBe(derive(1));
    expect(derive(1, 'spost-v1', p.randomBytes(32))).not.toBe(derive(1));
    expect(derive(1, 'spost-v1', key, 16)).toHaveLength(32);
    expect(derive(1, 'spost-v1', key, 64)).toHaveLength(128);
  });

  it('equalConstantTime and memzero', () => {
    const a = p.randomBytes(32);
    const b = Uint8Array.from(a);
    expect(p.equalConstantTime(a, b)).toBe(true);
    b[31]! ^= 1;
    expect(p.equalConstantTime(a, b)).toBe(false);
    expect(p.equalConstantTime(a, a.subarray(0, 31))).toBe(false);
    expect(p.equalConstantTime(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    const view = a.subarray(8, 16);
    p.memzero(view);
    expect([...a.subarray(8, 16)].every((x) => x === 0)).toBe(true);
    // the bytes around the view are untouched (b differs from a only at index 31)
    expect(toHex(a.subarray(0, 8))).toBe(toHex(b.subarray(0, 8)));
    expect(toHex(a.subarray(16, 31))).toBe(toHex(b.subarray(16, 31)));
  });
});

describe('cross-provider compatibility (sodium-native ⇄ libsodium-wrappers)', () => {
  let native: CryptoProvider;
  let wasm: CryptoProvider;
  beforeAll(async () => {
    native = await provider('sodium-native');
    wasm = await provider('libsodium-wrappers');
  });
  const pairs = (): [CryptoProvider, CryptoProvider][] => [
    [native, wasm],
    [wasm, native],
  ];

  it('a sealed box from one opens with the other', () => {
    for (const [a, b] of pairs()) {
      const kp = b.boxKeyPair();
      const m = a.randomBytes(80);
      expect(toHex(b.boxSealOpen(a.boxSeal(m, kp.publicKey), kp.publicKey, kp.secretKey)!)).toBe(
        toHex(m),
      );
    }
  });

  it('AEAD, BLAKE2b, KDF, X25519 and Ed25519 give identical bytes (property-based)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.integer({ min: 16, max: 64 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (msg, aad, key, nonce, outLength, subkeyId) => {
          const c1 = new Uint8Array(msg.length + 16);
          const c2 = new Uint8Array(msg.length + 16);
          native.aeadEncrypt(c1, msg, aad, nonce, key);
          wasm.aeadEncrypt(c2, msg, aad, nonce, key);
          expect(toHex(c2)).toBe(toHex(c1));
          const out = new Uint8Array(msg.length);
          expect(wasm.aeadDecrypt(out, c1, aad, nonce, key)).toBe(true);
          expect(native.aeadDecrypt(out, c2, aad, nonce, key)).toBe(true);

          const h1 = new Uint8Array(outLength);
          const h2 = new Uint8Array(outLength);
          native.hash(h1, msg, key);
          wasm.hash(h2, msg, key);
          expect(toHex(h2)).toBe(toHex(h1));
          const s = wasm.createHash(outLength);
          s.update(msg);
          s.update(aad);
          s.final(h2);
          const concat = new Uint8Array(msg.length + aad.length);
          concat.set(msg);
          concat.set(aad, msg.length);
          native.hash(h1, concat);
          expect(toHex(h2)).toBe(toHex(h1));

          native.kdfDerive(h1, subkeyId, 'spost-v1', key);
          wasm.kdfDerive(h2, subkeyId, 'spost-v1', key);
          expect(toHex(h2)).toBe(toHex(h1));

          expect(toHex(wasm.boxPublicKeyFromSecret(key))).toBe(
            toHex(native.boxPublicKeyFromSecret(key)),
          );
          const kpN = native.signKeyPairFromSeed(key);
          const kpW = wasm.signKeyPairFromSeed(key);
          expect(toHex(kpW.secretKey)).toBe(toHex(kpN.secretKey));
          const sig = native.signDetached(msg, kpN.secretKey);
          expect(toHex(wasm.signDetached(msg, kpW.secretKey))).toBe(toHex(sig));
          expect(wasm.verifyDetached(sig, msg, kpW.publicKey)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('X25519 shared secrets agree across providers', () => {
    for (const [a, b] of pairs()) {
      const x = a.boxKeyPair();
      const y = b.boxKeyPair();
      expect(toHex(a.scalarMult(x.secretKey, y.publicKey)!)).toBe(
        toHex(b.scalarMult(y.secretKey, x.publicKey)!),
      );
    }
  });
});
