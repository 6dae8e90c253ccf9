import { expect } from 'vitest';

import { CryptoError, type CryptoErrorCode } from '../../../../src/crypto/crypto-error.js';

/** Runs `fn`, asserts it throws a CryptoError with `code`, and returns the error. */
export function expectCryptoError(
  fn: () => unknown,
  code: CryptoErrorCode,
  label = '',
): CryptoError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `${label}: expected a CryptoError`).toBeInstanceOf(CryptoError);
  const err = caught as CryptoError;
  expect(err.code, label).toBe(code);
  expect(err.retriable, label).toBe(false);
  return err;
}
