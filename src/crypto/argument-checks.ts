import { CryptoError } from './crypto-error.js';
import {
  GENERICHASH_KEY_MAX_BYTES,
  GENERICHASH_KEY_MIN_BYTES,
  GENERICHASH_OUT_MAX_BYTES,
  GENERICHASH_OUT_MIN_BYTES,
  KDF_CONTEXT_BYTES,
} from './provider.js';

/*
 * Argument checks shared by both providers. They run before any call into libsodium: sodium-native
 * aborts the whole process on a size it does not expect, and libsodium-wrappers throws untyped errors.
 * Messages name the argument and the sizes, never the bytes.
 */

/** Throws CRYPTO_BAD_ARGUMENT unless `value` is a Uint8Array (Buffers are Uint8Arrays). */
export function requireBytes(
  op: string,
  name: string,
  value: unknown,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CryptoError('CRYPTO_BAD_ARGUMENT', `${op}: ${name} must be a Uint8Array`);
  }
}

/** Throws CRYPTO_BAD_LENGTH unless `value` is a Uint8Array of exactly `length` bytes. */
export function requireLength(
  op: string,
  name: string,
  value: unknown,
  length: number,
): asserts value is Uint8Array {
  requireBytes(op, name, value);
  if (value.length !== length) {
    throw new CryptoError(
      'CRYPTO_BAD_LENGTH',
      `${op}: ${name} must be ${length} bytes, got ${value.length}`,
    );
  }
}

/** Throws CRYPTO_BAD_LENGTH unless `value` is a Uint8Array of `min`..`max` bytes (inclusive). */
export function requireLengthIn(
  op: string,
  name: string,
  value: unknown,
  min: number,
  max: number,
): asserts value is Uint8Array {
  requireBytes(op, name, value);
  if (value.length < min || value.length > max) {
    throw new CryptoError(
      'CRYPTO_BAD_LENGTH',
      `${op}: ${name} must be ${min}..${max} bytes, got ${value.length}`,
    );
  }
}

/** Throws CRYPTO_BAD_LENGTH unless `value` has at least `min` bytes. */
export function requireMinLength(
  op: string,
  name: string,
  value: unknown,
  min: number,
): asserts value is Uint8Array {
  requireBytes(op, name, value);
  if (value.length < min) {
    throw new CryptoError(
      'CRYPTO_BAD_LENGTH',
      `${op}: ${name} must be at least ${min} bytes, got ${value.length}`,
    );
  }
}

/** Validates an optional BLAKE2b key: null/undefined, or 16..64 bytes. */
export function checkHashKey(op: string, key: Uint8Array | null | undefined): void {
  if (key !== null && key !== undefined) {
    requireLengthIn(op, 'key', key, GENERICHASH_KEY_MIN_BYTES, GENERICHASH_KEY_MAX_BYTES);
  }
}

/** Validates a BLAKE2b output length (16..64). */
export function checkHashOutLength(op: string, outLength: unknown): asserts outLength is number {
  if (
    typeof outLength !== 'number' ||
    !Number.isInteger(outLength) ||
    outLength < GENERICHASH_OUT_MIN_BYTES ||
    outLength > GENERICHASH_OUT_MAX_BYTES
  ) {
    throw new CryptoError(
      'CRYPTO_BAD_LENGTH',
      `${op}: output length must be ${GENERICHASH_OUT_MIN_BYTES}..${GENERICHASH_OUT_MAX_BYTES} bytes`,
    );
  }
}

/** Validates a KDF subkey id: an integer in 0..2^53−1 (JavaScript numbers are exact up to there). */
export function checkSubkeyId(op: string, subkeyId: unknown): asserts subkeyId is number {
  if (typeof subkeyId !== 'number' || !Number.isSafeInteger(subkeyId) || subkeyId < 0) {
    throw new CryptoError('CRYPTO_BAD_ARGUMENT', `${op}: subkeyId must be an integer in 0..2^53-1`);
  }
}

/**
 * Encodes a KDF context: exactly 8 printable ASCII characters (libsodium's context is 8 bytes; ASCII
 * keeps the string and its bytes the same in both providers, whatever their string encoding).
 */
export function encodeKdfContext(op: string, context: unknown): Uint8Array {
  if (typeof context !== 'string') {
    throw new CryptoError('CRYPTO_BAD_ARGUMENT', `${op}: context must be a string`);
  }
  if (context.length !== KDF_CONTEXT_BYTES) {
    throw new CryptoError(
      'CRYPTO_BAD_LENGTH',
      `${op}: context must be ${KDF_CONTEXT_BYTES} bytes, got ${context.length}`,
    );
  }
  const bytes = new Uint8Array(KDF_CONTEXT_BYTES);
  for (let i = 0; i < KDF_CONTEXT_BYTES; i++) {
    const c = context.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new CryptoError('CRYPTO_BAD_ARGUMENT', `${op}: context must be printable ASCII`);
    }
    bytes[i] = c;
  }
  return bytes;
}

/** True when every byte of `buf` is zero; runs in time depending only on the length. */
export function isAllZero(buf: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < buf.length; i++) acc |= buf[i]!;
  return acc === 0;
}

/** Largest randomBytes() request (1 GiB): anything bigger is a bug, not a key. */
export const RANDOM_BYTES_MAX = 1 << 30;

/** Validates a requested random length (integer, 0..RANDOM_BYTES_MAX). */
export function checkRandomLength(op: string, length: unknown): asserts length is number {
  if (
    typeof length !== 'number' ||
    !Number.isInteger(length) ||
    length < 0 ||
    length > RANDOM_BYTES_MAX
  ) {
    throw new CryptoError(
      'CRYPTO_BAD_LENGTH',
      `${op}: length must be an integer in 0..${RANDOM_BYTES_MAX}`,
    );
  }
}
