/**
 * Every size and type check of both providers: a wrong argument throws a typed CryptoError (never a
 * native abort, which would kill this test worker, and never an untyped library error).
 */
import { beforeAll, describe, expect, it } from 'vitest';

import type { CryptoErrorCode } from '../../../src/crypto/crypto-error.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { expectCryptoError } from './support/expect-crypto-error.js';
import { PROVIDER_NAMES, provider } from './support/providers.js';

const b = (n: number): Uint8Array => new Uint8Array(n).fill(0xab);
/** Wrong sizes around `n`: empty, one short, one long, double. */
const wrong = (n: number): number[] => [0, n - 1, n + 1, 2 * n].filter((x) => x >= 0 && x !== n);
// Not a Uint8Array: what a JS caller or a decoding bug could pass.
const NOT_BYTES: unknown[] = [
  'abab',
  32,
  null,
  undefined,
  [1, 2, 3],
  new Uint16Array(16),
  new ArrayBuffer(32),
  {},
];

interface Case {
  readonly label: string;
  readonly call: (p: CryptoProvider) => unknown;
  readonly code: CryptoErrorCode;
}

function cases(): Case[] {
  const out: Case[] = [];
  const add = (
    label: string,
    code: CryptoErrorCode,
    call: (p: CryptoProvider) => unknown,
  ): void => {
    out.push({ label, call, code });
  };
  const L = 'CRYPTO_BAD_LENGTH';
  const A = 'CRYPTO_BAD_ARGUMENT';
  for (const n of wrong(32)) {
    add(`boxPublicKeyFromSecret sk=${n}`, L, (p) => p.boxPublicKeyFromSecret(b(n)));
    add(`boxSeal pk=${n}`, L, (p) => p.boxSeal(b(80), b(n)));
    add(`boxSealOpen pk=${n}`, L, (p) => p.boxSealOpen(b(128), b(n), b(32)));
    add(`boxSealOpen sk=${n}`, L, (p) => p.boxSealOpen(b(128), b(32), b(n)));
    add(`scalarMult sk=${n}`, L, (p) => p.scalarMult(b(n), b(32)));
    add(`scalarMult pk=${n}`, L, (p) => p.scalarMult(b(32), b(n)));
    add(`signKeyPairFromSeed seed=${n}`, L, (p) => p.signKeyPairFromSeed(b(n)));
    add(`verifyDetached pk=${n}`, L, (p) => p.verifyDetached(b(64), b(3), b(n)));
    add(`aeadEncrypt key=${n}`, L, (p) => p.aeadEncrypt(b(19), b(3), null, b(24), b(n)));
    add(`aeadDecrypt key=${n}`, L, (p) => p.aeadDecrypt(b(3), b(19), null, b(24), b(n)));
    add(`kdfDerive key=${n}`, L, (p) => p.kdfDerive(b(32), 1, 'spost-v1', b(n)));
  }
  for (const n of [0, 47])
    add(`boxSealOpen ciphertext=${n}`, L, (p) => p.boxSealOpen(b(n), b(32), b(32)));
  for (const n of [...wrong(64), 32]) {
    add(`signDetached sk=${n}`, L, (p) => p.signDetached(b(3), b(n)));
    add(`verifyDetached sig=${n}`, L, (p) => p.verifyDetached(b(n), b(3), b(32)));
  }
  for (const n of [0, 12, 16, 23, 25, 32]) {
    add(`aeadEncrypt nonce=${n}`, L, (p) => p.aeadEncrypt(b(19), b(3), null, b(n), b(32)));
    add(`aeadDecrypt nonce=${n}`, L, (p) => p.aeadDecrypt(b(3), b(19), null, b(n), b(32)));
  }
  for (const n of [0, 3, 18, 20, 35])
    add(`aeadEncrypt out=${n} for 3-byte message`, L, (p) =>
      p.aeadEncrypt(b(n), b(3), null, b(24), b(32)),
    );
  for (const n of [0, 2, 4, 19])
    add(`aeadDecrypt out=${n} for 19-byte ciphertext`, L, (p) =>
      p.aeadDecrypt(b(n), b(19), null, b(24), b(32)),
    );
  for (const n of [0, 15])
    add(`aeadDecrypt ciphertext=${n}`, L, (p) => p.aeadDecrypt(b(0), b(n), null, b(24), b(32)));
  for (const n of [0, 1, 15, 65, 128]) {
    add(`hash out=${n}`, L, (p) => p.hash(b(n), b(3)));
    add(`kdfDerive out=${n}`, L, (p) => p.kdfDerive(b(n), 1, 'spost-v1', b(32)));
    add(`createHash outLength=${n}`, L, (p) => p.createHash(n));
    add(`createHash(32) final out=${n}`, L, (p) => p.createHash(32).final(b(n)));
  }
  for (const n of [0, 1, 15, 65, 100]) {
    add(`hash key=${n}`, L, (p) => p.hash(b(32), b(3), b(n)));
    add(`createHash key=${n}`, L, (p) => p.createHash(32, b(n)));
  }
  for (const x of [1.5, Number.NaN, Infinity, -16])
    add(`createHash outLength=${x}`, L, (p) => p.createHash(x));
  for (const ctx of ['', 'spost-v', 'spost-v12', 'sealpost/v1']) {
    add(`kdfDerive context length ${ctx.length}`, L, (p) => p.kdfDerive(b(32), 1, ctx, b(32)));
  }
  for (const ctx of ['spost-vé', 'spost\u0000v1', 'spost\tv1'])
    add(`kdfDerive context ${JSON.stringify(ctx)}`, A, (p) => p.kdfDerive(b(32), 1, ctx, b(32)));
  for (const id of [-1, 1.5, 2 ** 53, Number.NaN, Infinity])
    add(`kdfDerive subkeyId ${id}`, A, (p) => p.kdfDerive(b(32), id, 'spost-v1', b(32)));
  for (const n of [-1, 1.5, Number.NaN, 2 ** 31])
    add(`randomBytes(${n})`, L, (p) => p.randomBytes(n));

  // Wrong types, argument by argument (the rest well-formed).
  NOT_BYTES.forEach((x, i) => {
    const v = x as Uint8Array;
    const t = `#${i}`;
    add(`randomFill ${t}`, A, (p) => p.randomFill(v));
    add(`boxSeal message ${t}`, A, (p) => p.boxSeal(v, b(32)));
    add(`signDetached message ${t}`, A, (p) => p.signDetached(v, b(64)));
    add(`verifyDetached message ${t}`, A, (p) => p.verifyDetached(b(64), v, b(32)));
    add(`aeadEncrypt message ${t}`, A, (p) => p.aeadEncrypt(b(19), v, null, b(24), b(32)));
    add(`hash input ${t}`, A, (p) => p.hash(b(32), v));
    add(`hash state update ${t}`, A, (p) => p.createHash(32).update(v));
    add(`equalConstantTime ${t}`, A, (p) => p.equalConstantTime(b(4), v));
    add(`memzero ${t}`, A, (p) => p.memzero(v));
    if (x !== null && x !== undefined) {
      add(`aeadEncrypt aad ${t}`, A, (p) => p.aeadEncrypt(b(19), b(3), v, b(24), b(32)));
      add(`aeadDecrypt aad ${t}`, A, (p) => p.aeadDecrypt(b(3), b(19), v, b(24), b(32)));
    }
  });
  return out;
}

const CASES = cases();

describe.each(PROVIDER_NAMES)('argument validation in %s', (name) => {
  let p: CryptoProvider;
  beforeAll(async () => {
    p = await provider(name);
  });

  it(`throws the typed error for each of the ${CASES.length} bad calls, naming no bytes`, () => {
    expect(CASES.length).toBeGreaterThan(200);
    for (const c of CASES) {
      const err = expectCryptoError(() => c.call(p), c.code, c.label);
      expect(err.message, c.label).not.toMatch(/abab|171,\s*171/i); // 0xab bytes never echoed
    }
  });

  it('still works after every rejected call (nothing half-initialised)', () => {
    const kp = p.boxKeyPair();
    const sealed = p.boxSeal(b(80), kp.publicKey);
    expect(p.boxSealOpen(sealed, kp.publicKey, kp.secretKey)).toEqual(b(80));
  });
});
