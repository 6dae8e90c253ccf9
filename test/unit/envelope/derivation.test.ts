import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  hash128,
  hash256,
  kdf,
  keyBinding,
  kid,
  label,
  LABELS,
  mac16,
  schemaFingerprint,
} from '../../../src/envelope/index.js';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';

const ascii = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('labels', () => {
  it('L(x) is "sealpost/v1/" + x then one 0x00', () => {
    expect(hex(label('kid'))).toBe(hex(Uint8Array.of(...ascii('sealpost/v1/kid'), 0)));
    const all = Object.values(LABELS).map(hex);
    expect(new Set(all).size).toBe(all.length); // one distinct label per use
    expect(() => label('with space')).toThrow(RangeError);
  });
});

describe.each(PROVIDER_NAMES)('labelled derivation (%s)', (providerName) => {
  let p: CryptoProvider;
  beforeAll(async () => {
    p = await loadProvider(providerName);
  });

  it('kid(alg, pk) = H16(L(kid) ‖ u8 |alg| ‖ alg ‖ pk), distinct per algorithm', () => {
    const pk = p.randomBytes(32);
    const manual = new Uint8Array(16);
    p.hash(manual, Uint8Array.of(...ascii('sealpost/v1/kid'), 0, 6, ...ascii('x25519'), ...pk));
    expect(hex(kid(p, 'x25519', pk))).toBe(hex(manual));
    expect(hex(kid(p, 'ed25519', pk))).not.toBe(hex(manual));
  });

  it('keyBinding: 0x00 for null, 0x01 ‖ H(L(record-key) ‖ k) otherwise (empty key ≠ null)', () => {
    expect(hex(keyBinding(p, null))).toBe('00');
    const k = ascii('order-17');
    const h = new Uint8Array(32);
    p.hash(h, Uint8Array.of(...ascii('sealpost/v1/record-key'), 0, ...k));
    expect(hex(keyBinding(p, k))).toBe(`01${hex(h)}`);
    expect(keyBinding(p, new Uint8Array(0)).length).toBe(33);
  });

  it('H, H16, MAC, KDF and schemaFp are the libsodium primitives over the labelled input', () => {
    const x = p.randomBytes(100);
    const h = new Uint8Array(32);
    p.hash(h, x);
    expect(hex(hash256(p, x.subarray(0, 40), x.subarray(40)))).toBe(hex(h));
    const h16 = new Uint8Array(16);
    p.hash(h16, x);
    expect(hex(hash128(p, x))).toBe(hex(h16));
    const key = p.randomBytes(32);
    const m = new Uint8Array(16);
    p.hash(m, x, key);
    expect(hex(mac16(p, key, x))).toBe(hex(m));
    const seed = p.randomBytes(32);
    const sub = new Uint8Array(32);
    p.kdfDerive(sub, 2, 'spost-v1', seed);
    expect(hex(kdf(p, seed, 2))).toBe(hex(sub));
    expect(hex(kdf(p, seed, 1))).not.toBe(hex(kdf(p, seed, 3)));
    const fp = new Uint8Array(16);
    p.hash(fp, Uint8Array.of(...ascii('sealpost/v1/schema'), 0, ...ascii('"string"')));
    expect(hex(schemaFingerprint(p, '"string"'))).toBe(hex(fp));
  });
});
