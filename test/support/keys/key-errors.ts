/**
 * The errors keys tests expect (KeyError, DirectoryError): each helper asserts the class and returns
 * the error, for the test to check its code.
 */
import { expect } from 'vitest';
import { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import { KeyError } from '../../../src/keys/key-error.js';

/** The error of class `cls` that `fn` throws (fails the test when it throws nothing or something else). */
function thrownBy<E>(fn: () => unknown, cls: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    return err as E;
  }
  throw new Error(`expected a ${cls.name}`);
}

/** The KeyError `fn` throws. */
export const keyError = (fn: () => unknown): KeyError => thrownBy(fn, KeyError);

/** The KeyError `p` rejects with (fails the test when it resolves or rejects with something else). */
export async function keyErrorAsync(p: Promise<unknown>): Promise<KeyError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyError);
  return err as KeyError;
}

/** The DirectoryError `fn` throws. */
export const refusedBy = (fn: () => unknown): DirectoryError => thrownBy(fn, DirectoryError);
