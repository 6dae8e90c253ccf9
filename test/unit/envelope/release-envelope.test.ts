import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { EnvelopeError } from '../../../src/envelope/errors.js';
import {
  decodeRelease,
  encodeRelease,
  isReleaseValue,
  releaseIdOf,
  type ReleaseFields,
} from '../../../src/envelope/release-envelope.js';
import { loadProvider } from './support/providers.js';

let crypto: CryptoProvider;
let keys: { publicKey: Uint8Array; secretKey: Uint8Array };
beforeAll(async () => {
  crypto = await loadProvider('sodium-native');
  keys = crypto.signKeyPair();
});

const fields = (over: Partial<ReleaseFields> = {}): ReleaseFields => ({
  operatorKid: new Uint8Array(16).fill(7),
  namespace: new Uint8Array(16).fill(9),
  issuedAtMs: 1_700_000_000_000,
  expiresAtMs: 1_700_086_400_000,
  topic: 'orders.v1',
  partition: 3,
  group: 'billing',
  entryId: 17,
  inner: Uint8Array.of(0, 0, 0, 0, 1, 2, 3, 4, 5),
  ...over,
});

const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof EnvelopeError ? err.code : 'OTHER';
  }
};

describe('release envelope (docs/SPEC.md §11.2)', () => {
  it('round-trips, and the signature covers L(release-sig) and every byte before it', () => {
    const value = encodeRelease(fields(), (tbs) => crypto.signDetached(tbs, keys.secretKey));
    expect(isReleaseValue(value)).toBe(true);
    expect(value[0]).toBe(0x01);
    const d = decodeRelease(value, 1 << 20);
    expect(d).toMatchObject({ topic: 'orders.v1', partition: 3, group: 'billing', entryId: 17 });
    expect([...d.inner]).toEqual([...fields().inner]);
    expect(crypto.verifyDetached(d.signature, d.toBeSigned, keys.publicKey)).toBe(true);
    const label = new TextDecoder().decode(d.toBeSigned.subarray(0, 24));
    expect(label).toBe('sealpost/v1/release-sig\0');
    // Any flipped byte of the signed part fails the signature or the decode.
    for (let i = 0; i < value.length - 64; i++) {
      const bad = Uint8Array.from(value);
      bad[i]! ^= 0x01;
      let ok = false;
      try {
        const x = decodeRelease(bad, 1 << 20);
        ok = crypto.verifyDetached(x.signature, x.toBeSigned, keys.publicKey);
      } catch (err) {
        expect(err).toBeInstanceOf(EnvelopeError);
      }
      expect(ok).toBe(false);
    }
  });

  it('an ordinary envelope value is never a release, and the release id depends on the inner bytes only', () => {
    expect(isReleaseValue(Uint8Array.of(0, 0, 0, 0, 1))).toBe(false);
    const a = releaseIdOf(crypto, fields().inner);
    expect(releaseIdOf(crypto, Uint8Array.from(fields().inner))).toEqual(a);
    expect(releaseIdOf(crypto, Uint8Array.of(0, 0, 0, 0, 1, 2, 3, 4, 6))).not.toEqual(a);
    expect(a.length).toBe(16);
  });

  it('refuses a nested release, a too-large inner record, trailing and missing bytes', () => {
    const sign = (tbs: Uint8Array) => crypto.signDetached(tbs, keys.secretKey);
    const value = encodeRelease(fields(), sign);
    expect(code(() => decodeRelease(value, 8))).toBe('RELEASE_MALFORMED');
    expect(code(() => decodeRelease(Uint8Array.from([...value, 0]), 1 << 20))).toBe(
      'RELEASE_MALFORMED',
    );
    expect(code(() => decodeRelease(value.subarray(0, value.length - 1), 1 << 20))).toBe(
      'RELEASE_MALFORMED',
    );
    expect(code(() => encodeRelease(fields({ inner: value }), sign))).toBe('OTHER');
    const wrongVersion = Uint8Array.from(value);
    wrongVersion[1] = 2;
    expect(code(() => decodeRelease(wrongVersion, 1 << 20))).toBe('RELEASE_MALFORMED');
  });

  it('decodes any input bytes to a release or RELEASE_MALFORMED, never anything else', () => {
    const sign = (tbs: Uint8Array) => crypto.signDetached(tbs, keys.secretKey);
    const base = encodeRelease(fields(), sign);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((b) => Uint8Array.from([1, 1, ...b])),
          fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const b = Uint8Array.from(base);
            b[i]! ^= x;
            return b;
          }),
          fc.nat(base.length).map((n) => base.subarray(0, n)),
        ),
        (bytes) => {
          const c = code(() => decodeRelease(bytes, 1 << 20));
          expect(c === undefined || c === 'RELEASE_MALFORMED').toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
