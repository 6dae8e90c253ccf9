import type { CryptoProvider } from '../crypto/provider.js';
import { ByteWriter, label, utf8 } from './bytes.js';

/** Key algorithms a kid can name (`xwing`: an X-Wing KEM public key, suite 2; docs/PQ-NOTES.md). */
export type KeyAlgorithm = 'x25519' | 'ed25519' | 'xwing';

/** Size of a kid (BLAKE2b-128). */
export const KID_BYTES = 16;

const KID_LABEL = label('kid');

/**
 * `kid(alg, pk) = H16(L("kid") ‖ u8 |alg| ‖ alg ‖ pk)` — byte-identical to the envelope's `kid`. A kid
 * is a lookup hint: the directory refuses duplicates and all crypto uses the full public key.
 */
export function computeKid(
  crypto: CryptoProvider,
  alg: KeyAlgorithm,
  publicKey: Uint8Array,
): Uint8Array {
  const algBytes = utf8(alg);
  const input = new ByteWriter()
    .bytes(KID_LABEL)
    .u8(algBytes.length)
    .bytes(algBytes)
    .bytes(publicKey)
    .finish();
  const out = new Uint8Array(KID_BYTES);
  crypto.hash(out, input);
  return out;
}
