import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { TokenClassKey } from '../../../src/tokenize/token-cipher.js';
import { TokenKeyring } from '../../../src/tokenize/token-keyring.js';
import { FieldTokenizer } from '../../../src/tokenize/field-tokenizer.js';
import { parseToken } from '../../../src/tokenize/token-string.js';
import { TokenizeError } from '../../../src/tokenize/tokenize-error.js';

let crypto: CryptoProvider;
let keyring: TokenKeyring;
let tokenizer: FieldTokenizer;
beforeAll(async () => {
  crypto = await createCryptoProvider();
  const k = crypto.randomBytes(32);
  keyring = new TokenKeyring([
    new TokenClassKey(crypto, 'card', 1, k),
    new TokenClassKey(crypto, 'card', 2, crypto.randomBytes(32)),
  ]);
  tokenizer = new FieldTokenizer({ keyring, crypto });
});

/** Opens a token string with the keyring (what the Detokenizer does after its clearance check). */
function open(token: string): Uint8Array {
  const p = parseToken(token);
  return keyring.version(p.tokenClass, p.version).open(p.bytes, p.type);
}

describe('tokens (properties)', () => {
  it('every string round-trips, tokens are deterministic, and distinct values give distinct tokens', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 64 }),
        fc.string({ maxLength: 64 }),
        (a, b) => {
          const ta = tokenizer.tokenizeValue('card', 'deterministic', 'string', a);
          expect(tokenizer.tokenizeValue('card', 'deterministic', 'string', a)).toBe(ta);
          expect(new TextDecoder().decode(open(ta))).toBe(a);
          expect(parseToken(ta).version).toBe(2);
          if (a !== b)
            expect(tokenizer.tokenizeValue('card', 'deterministic', 'string', b)).not.toBe(ta);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any change to a token is refused with a typed error, never opened', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 48 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (value, at, flip) => {
          const token = tokenizer.tokenizeValue('card', 'deterministic', 'bytes', value);
          const bytes = Buffer.from(parseToken(token).bytes);
          bytes[at % bytes.length]! ^= flip;
          const forged = `spt1.card.2.b.${bytes.toString('base64url')}`;
          expect(() => open(forged)).toThrow(TokenizeError);
          // The same bytes under the other version or type are refused too.
          expect(() => open(token.replace('.2.b.', '.1.b.'))).toThrow(TokenizeError);
          expect(() => open(token.replace('.2.b.', '.2.s.'))).toThrow(TokenizeError);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('arbitrary strings never open and never throw anything but TokenizeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ maxLength: 80 }).map((s) => `spt1.card.1.s.${s}`),
          fc.base64String({ maxLength: 120 }).map((s) => `spt1.card.2.b.${s.replace(/=+$/, '')}`),
        ),
        (s) => {
          try {
            open(s);
          } catch (err) {
            expect(err).toBeInstanceOf(TokenizeError);
            return;
          }
          throw new Error('an arbitrary string opened');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
