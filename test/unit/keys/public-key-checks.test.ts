import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  isValidEd25519PublicKey,
  isValidX25519PublicKey,
} from '../../../src/keys/directory/public-key-checks.js';
import { testCrypto } from '../../support/keys/test-crypto.js';

// libsodium's own check, as the reference the BigInt implementation must agree with.
const sodium = createRequire(import.meta.url)('sodium-native') as {
  crypto_core_ed25519_is_valid_point(p: Buffer): boolean;
  crypto_core_ed25519_add(r: Buffer, p: Buffer, q: Buffer): void;
};

let crypto: CryptoProvider;
beforeAll(async () => {
  crypto = await testCrypto();
});

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/** Small-order points of edwards25519 (the 8-torsion), canonical encodings. */
const ED_SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // order 2
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
];

describe('isValidEd25519PublicKey', () => {
  it('accepts real public keys', () => {
    for (let i = 0; i < 50; i++)
      expect(isValidEd25519PublicKey(crypto.signKeyPair().publicKey)).toBe(true);
  });

  it('refuses small-order points, non-canonical encodings and points off the curve', () => {
    for (const h of ED_SMALL_ORDER) expect(isValidEd25519PublicKey(hex(h))).toBe(false);
    // y = p (non-canonical encoding of y = 0) and y = p + 1 (non-canonical identity).
    expect(
      isValidEd25519PublicKey(
        hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      ),
    ).toBe(false);
    expect(
      isValidEd25519PublicKey(
        hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'),
      ),
    ).toBe(false);
    // x = 0 with the sign bit set (-0): non-canonical identity.
    expect(
      isValidEd25519PublicKey(
        hex('0100000000000000000000000000000000000000000000000000000000000080'),
      ),
    ).toBe(false);
    expect(isValidEd25519PublicKey(new Uint8Array(31))).toBe(false);
  });

  it('refuses a mixed-order point (valid key plus a torsion component)', () => {
    const pk = Buffer.from(crypto.signKeyPair().publicKey);
    const mixed = Buffer.alloc(32);
    sodium.crypto_core_ed25519_add(mixed, pk, Buffer.from(hex(ED_SMALL_ORDER[3]!)));
    expect(isValidEd25519PublicKey(mixed)).toBe(false);
    expect(sodium.crypto_core_ed25519_is_valid_point(mixed)).toBe(false);
  });

  it('agrees with libsodium crypto_core_ed25519_is_valid_point on random encodings', () => {
    let valid = 0;
    for (let i = 0; i < 1500; i++) {
      const b = randomBytes(32);
      const ours = isValidEd25519PublicKey(b);
      expect(ours).toBe(sodium.crypto_core_ed25519_is_valid_point(b));
      if (ours) valid++;
    }
    // About half of random strings decode to a curve point and 1/8 of those are in the prime-order
    // subgroup: ≈ 1/16 valid, so both answers were exercised.
    expect(valid).toBeGreaterThan(40);
    expect(valid).toBeLessThan(160);
  });
});

describe('isValidX25519PublicKey', () => {
  it('accepts real public keys', () => {
    for (let i = 0; i < 50; i++)
      expect(isValidX25519PublicKey(crypto, crypto.boxKeyPair().publicKey)).toBe(true);
  });

  it('refuses low-order points and non-canonical encodings', () => {
    for (const h of [
      '0000000000000000000000000000000000000000000000000000000000000000',
      '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
      '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      // the same with the top bit set
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
    ]) {
      expect(isValidX25519PublicKey(crypto, hex(h))).toBe(false);
    }
    expect(isValidX25519PublicKey(crypto, new Uint8Array(33))).toBe(false);
  });
});
