import { CryptoError } from './crypto-error.js';
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  GENERICHASH_KEY_MAX_BYTES,
  GENERICHASH_KEY_MIN_BYTES,
  GENERICHASH_OUT_MAX_BYTES,
  GENERICHASH_OUT_MIN_BYTES,
  KDF_CONTEXT_BYTES,
  SEAL_OVERHEAD_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  X25519_SECRET_KEY_BYTES,
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

/*
 * Whole-operation checks: the same argument rules for both providers, written once. Each provider
 * method calls its check first, then only the library call differs.
 */

/** boxSealOpen: ciphertext ≥ 48 bytes, X25519 public and secret keys of 32. */
export function checkBoxSealOpenArgs(
  ciphertext: Uint8Array,
  publicKey: Uint8Array,
  secretKey: Uint8Array,
): void {
  requireMinLength('boxSealOpen', 'ciphertext', ciphertext, SEAL_OVERHEAD_BYTES);
  requireLength('boxSealOpen', 'publicKey', publicKey, X25519_PUBLIC_KEY_BYTES);
  requireLength('boxSealOpen', 'secretKey', secretKey, X25519_SECRET_KEY_BYTES);
}

/** verifyDetached: exactly 64-byte signatures (sodium-native alone would ignore a longer tail). */
export function checkVerifyArgs(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): void {
  requireLength('verifyDetached', 'signature', signature, ED25519_SIGNATURE_BYTES);
  requireBytes('verifyDetached', 'message', message);
  requireLength('verifyDetached', 'publicKey', publicKey, ED25519_PUBLIC_KEY_BYTES);
}

/** aeadEncrypt: `out` is message + 16 bytes, 24-byte nonce, 32-byte key. */
export function checkAeadEncryptArgs(
  out: Uint8Array,
  message: Uint8Array,
  aad: Uint8Array | null,
  nonce: Uint8Array,
  key: Uint8Array,
): void {
  requireBytes('aeadEncrypt', 'message', message);
  requireLength('aeadEncrypt', 'out', out, message.length + AEAD_TAG_BYTES);
  if (aad !== null) requireBytes('aeadEncrypt', 'aad', aad);
  requireLength('aeadEncrypt', 'nonce', nonce, AEAD_NONCE_BYTES);
  requireLength('aeadEncrypt', 'key', key, AEAD_KEY_BYTES);
}

/** aeadDecrypt: ciphertext ≥ 16 bytes, `out` is ciphertext − 16 bytes, 24-byte nonce, 32-byte key. */
export function checkAeadDecryptArgs(
  out: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array | null,
  nonce: Uint8Array,
  key: Uint8Array,
): void {
  requireMinLength('aeadDecrypt', 'ciphertext', ciphertext, AEAD_TAG_BYTES);
  requireLength('aeadDecrypt', 'out', out, ciphertext.length - AEAD_TAG_BYTES);
  if (aad !== null) requireBytes('aeadDecrypt', 'aad', aad);
  requireLength('aeadDecrypt', 'nonce', nonce, AEAD_NONCE_BYTES);
  requireLength('aeadDecrypt', 'key', key, AEAD_KEY_BYTES);
}

/** hash: 16..64-byte output, an input, an optional 16..64-byte key. */
export function checkHashArgs(
  out: Uint8Array,
  input: Uint8Array,
  key: Uint8Array | null | undefined,
): void {
  requireLengthIn('hash', 'out', out, GENERICHASH_OUT_MIN_BYTES, GENERICHASH_OUT_MAX_BYTES);
  requireBytes('hash', 'input', input);
  checkHashKey('hash', key);
}
