/**
 * The errors keys tests expect (KeyError, DirectoryError): each helper asserts the class and returns
 * the error, for the test to check its code.
 */
import { expect } from 'vitest';
import { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import { KeyError } from '../../../src/keys/key-error.js';

/** The KeyError `fn` throws (fails the test when it throws nothing or something else). */
export function keyError(fn: () => unknown): KeyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KeyError);
    return err as KeyError;
  }
  throw new Error('expected a KeyError');
}

/** The KeyError `p` rejects with (fails the test when it resolves or rejects with something else). */
export async function keyErrorAsync(p: Promise<unknown>): Promise<KeyError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyError);
  return err as KeyError;
}

/** The DirectoryError `fn` throws (fails the test when it throws nothing or something else). */
export function refusedBy(fn: () => unknown): DirectoryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DirectoryError);
    return err as DirectoryError;
  }
  throw new Error('expected a DirectoryError');
}
