import { beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { MAX_TOKENIZED_VALUE_BYTES, TokenClassKey } from '../../../src/tokenize/token-cipher.js';
import { formatToken, parseToken } from '../../../src/tokenize/token-string.js';
import { TokenizeError } from '../../../src/tokenize/tokenize-error.js';

const enc = new TextEncoder();

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TokenizeError);
  expect((caught as TokenizeError).code).toBe(code);
}

describe.each(['sodium-native', 'libsodium-wrappers'] as const)(
  'token construction (%s)',
  (name) => {
    let crypto: CryptoProvider;
    let other: CryptoProvider;
    let k1: Uint8Array;
    beforeAll(async () => {
      crypto = await createCryptoProvider(name);
      other = await createCryptoProvider(
        name === 'sodium-native' ? 'libsodium-wrappers' : 'sodium-native',
      );
      k1 = crypto.randomBytes(32);
    });

    it('is deterministic per (key, class, version, type) and opens to the value', () => {
      const a = new TokenClassKey(crypto, 'card', 1, k1);
      const b = new TokenClassKey(other, 'card', 1, k1);
      const v = enc.encode('4111 1111 1111 1111');
      const t1 = a.seal(v, 'string');
      expect(Buffer.from(b.seal(v, 'string'))).toEqual(Buffer.from(t1)); // same bytes across providers
      expect(t1.length).toBe(24 + v.length + 16);
      expect(Buffer.from(a.open(t1, 'string'))).toEqual(Buffer.from(v));
      // Different class, version, type or value → different token.
      const variants = [
        new TokenClassKey(crypto, 'iban', 1, k1).seal(v, 'string'),
        new TokenClassKey(crypto, 'card', 2, k1).seal(v, 'string'),
        a.seal(v, 'bytes'),
        a.seal(enc.encode('4111 1111 1111 1112'), 'string'),
      ];
      for (const x of variants) expect(Buffer.from(x).equals(Buffer.from(t1))).toBe(false);
    });

    it('refuses tampered tokens, the wrong type, the wrong version and the wrong key', () => {
      const a = new TokenClassKey(crypto, 'card', 1, k1);
      const v = enc.encode('secret value');
      const t = a.seal(v, 'string');
      for (let i = 0; i < t.length; i++) {
        const x = Uint8Array.from(t);
        x[i]! ^= 0x01;
        expectCode(() => a.open(x, 'string'), 'TOKEN_INVALID');
      }
      expectCode(() => a.open(t, 'bytes'), 'TOKEN_INVALID');
      expectCode(() => new TokenClassKey(crypto, 'card', 2, k1).open(t, 'string'), 'TOKEN_INVALID');
      expectCode(
        () => new TokenClassKey(crypto, 'card', 1, crypto.randomBytes(32)).open(t, 'string'),
        'TOKEN_INVALID',
      );
      expectCode(() => a.open(t.subarray(0, 39), 'string'), 'TOKEN_MALFORMED');
    });

    it('masks are deterministic, 32 bytes, and differ from the SIV of the same value', () => {
      const a = new TokenClassKey(crypto, 'email', 1, k1);
      const v = enc.encode('a@example.org');
      expect(Buffer.from(a.mask(v, 'string'))).toEqual(Buffer.from(a.mask(v, 'string')));
      expect(a.mask(v, 'string')).toHaveLength(32);
      expect(
        Buffer.from(a.mask(v, 'string')).equals(Buffer.from(a.seal(v, 'string').subarray(0, 32))),
      ).toBe(false);
    });

    it('refuses values above the limit and zeroes its subkeys on zero()', () => {
      const a = new TokenClassKey(crypto, 'card', 1, k1);
      expectCode(
        () => a.seal(new Uint8Array(MAX_TOKENIZED_VALUE_BYTES + 1), 'bytes'),
        'TOKEN_VALUE_INVALID',
      );
      const t = a.seal(enc.encode('x'), 'string');
      a.zero();
      expectCode(() => a.open(t, 'string'), 'TOKEN_INVALID');
    });
  },
);

describe('token strings', () => {
  it('round-trip and refuse anything else', () => {
    const bytes = Uint8Array.from({ length: 45 }, (_, i) => i * 7);
    const s = formatToken({
      mode: 'deterministic',
      tokenClass: 'card',
      version: 12,
      type: 'bytes',
      bytes,
    });
    expect(s.startsWith('spt1.card.12.b.')).toBe(true);
    const p = parseToken(s);
    expect(p).toMatchObject({
      mode: 'deterministic',
      tokenClass: 'card',
      version: 12,
      type: 'bytes',
    });
    expect(Buffer.from(p.bytes)).toEqual(Buffer.from(bytes));
    for (const bad of [
      '',
      'spt1.card.0.s.AAAA',
      'spt1.Card.1.s.AAAA',
      'spt2.card.1.s.AAAA',
      'spt1.card.1.x.AAAA',
      `${s}=`,
      'spm1.card.1.s.AAAA',
      s.replace('spt1.', 'spt1..'),
    ]) {
      expectCode(() => parseToken(bad), 'TOKEN_MALFORMED');
    }
    // Non-canonical base64url (padding bits set) is refused: one value, one token string.
    expectCode(() => parseToken('spt1.card.1.s.AB'), 'TOKEN_MALFORMED');
  });
});
