import type { CryptoProvider } from '../../crypto/provider.js';
import { XWING_PUBLIC_KEY_BYTES } from '../../crypto/provider.js';
import { isValidX25519PublicKey } from './public-key-checks.js';

/**
 * Checks on an X-Wing public key (suite 2; docs/PQ-NOTES.md) published in the directory, done once
 * when a record is accepted, never on the message path. An X-Wing public key is the ML-KEM-768
 * encapsulation key (1,184 bytes: `t` as 384·3 = 1,152 bytes of 12-bit coefficients, then the 32-byte
 * seed ρ) followed by an X25519 public key (32 bytes).
 */

/** ML-KEM's modulus q. */
const Q = 3329;
/** Bytes of the ML-KEM-768 encapsulation key, and of its `t` part (k = 3 polynomials of 384 bytes). */
export const MLKEM768_EK_BYTES = 1184;
const MLKEM768_T_BYTES = 1152;

/** Why an X-Wing public key is refused, or `ok`. */
export type XWingPublicKeyVerdict = 'ok' | 'bad-length' | 'mlkem-modulus' | 'x25519-invalid';

/**
 * FIPS 203 §7.2 input check ("modulus check") on the `t` part of an ML-KEM-768 encapsulation key:
 * every 12-bit coefficient is below q, i.e. ByteEncode12(ByteDecode12(t)) = t. Three bytes hold two
 * little-endian 12-bit coefficients.
 */
export function mlKemCoefficientsReduced(ek: Uint8Array): boolean {
  if (ek.length !== MLKEM768_EK_BYTES) return false;
  for (let i = 0; i < MLKEM768_T_BYTES; i += 3) {
    const b0 = ek[i]!;
    const b1 = ek[i + 1]!;
    const b2 = ek[i + 2]!;
    if ((b0 | ((b1 & 0x0f) << 8)) >= Q) return false;
    if (((b1 >> 4) | (b2 << 4)) >= Q) return false;
  }
  return true;
}

/**
 * Checks an X-Wing public key: 1,216 bytes; the ML-KEM-768 part passes the modulus check; the X25519
 * part is a usable X25519 key (canonical, not all-zero, not of low order: isValidX25519PublicKey).
 */
export function checkXWingPublicKey(
  crypto: CryptoProvider,
  publicKey: Uint8Array,
): XWingPublicKeyVerdict {
  if (publicKey.length !== XWING_PUBLIC_KEY_BYTES) return 'bad-length';
  if (!mlKemCoefficientsReduced(publicKey.subarray(0, MLKEM768_EK_BYTES))) return 'mlkem-modulus';
  if (!isValidX25519PublicKey(crypto, publicKey.subarray(MLKEM768_EK_BYTES)))
    return 'x25519-invalid';
  return 'ok';
}

/** True iff {@link checkXWingPublicKey} accepts `publicKey`. */
export function isValidXWingPublicKey(crypto: CryptoProvider, publicKey: Uint8Array): boolean {
  return checkXWingPublicKey(crypto, publicKey) === 'ok';
}
