import type { CryptoProvider } from '../crypto/provider.js';
import { KDF_CONTEXT, LABELS } from './labels.js';

/** Concatenates byte strings into one new buffer. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `H(x)` = BLAKE2b-256. */
export function hash256(provider: CryptoProvider, ...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(32);
  provider.hash(out, parts.length === 1 ? parts[0]! : concatBytes(...parts));
  return out;
}

/** `H16(x)` = BLAKE2b-128. */
export function hash128(provider: CryptoProvider, ...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(16);
  provider.hash(out, parts.length === 1 ? parts[0]! : concatBytes(...parts));
  return out;
}

/** `MAC(k, x)` = keyed BLAKE2b with a 16-byte output. */
export function mac16(
  provider: CryptoProvider,
  key: Uint8Array,
  ...parts: readonly Uint8Array[]
): Uint8Array {
  const out = new Uint8Array(16);
  provider.hash(out, parts.length === 1 ? parts[0]! : concatBytes(...parts), key);
  return out;
}

/** `KDF(seed, id)` = crypto_kdf_derive_from_key(32, id, "spost-v1", seed). */
export function kdf(provider: CryptoProvider, seed: Uint8Array, id: number): Uint8Array {
  const out = new Uint8Array(32);
  provider.kdfDerive(out, id, KDF_CONTEXT, seed);
  return out;
}

/** Key algorithms a kid can name. */
export type KidAlgorithm = 'x25519' | 'ed25519' | 'xwing';

/** `L(kid) ‖ u8 |alg| ‖ alg` per algorithm, built once. */
const KID_PREFIX: Record<KidAlgorithm, Uint8Array> = {
  x25519: concatBytes(LABELS.kid, Uint8Array.of(6), new TextEncoder().encode('x25519')),
  ed25519: concatBytes(LABELS.kid, Uint8Array.of(7), new TextEncoder().encode('ed25519')),
  xwing: concatBytes(LABELS.kid, Uint8Array.of(5), new TextEncoder().encode('xwing')),
};

/** `kid(alg, pk) = H16(L(kid) ‖ u8 |alg| ‖ alg ‖ pk)`: a lookup hint, never a substitute for the key. */
export function kid(
  provider: CryptoProvider,
  alg: KidAlgorithm,
  publicKey: Uint8Array,
): Uint8Array {
  return hash128(provider, KID_PREFIX[alg], publicKey);
}

/** The 1-byte encoding of a null Kafka key. */
const NULL_KEY_BINDING = Uint8Array.of(0);

/** `keyBinding(k)` = 0x00 for a null Kafka key, else 0x01 ‖ H(L(record-key) ‖ k). */
export function keyBinding(provider: CryptoProvider, recordKey: Uint8Array | null): Uint8Array {
  if (recordKey === null) return NULL_KEY_BINDING.slice();
  const out = new Uint8Array(33);
  out[0] = 1;
  provider.hash(out.subarray(1), concatBytes(LABELS.recordKey, recordKey));
  return out;
}

/** `schemaFp = H16(L(schema) ‖ schema text)`: computed once per schema id by the pipeline. */
export function schemaFingerprint(provider: CryptoProvider, schemaText: string): Uint8Array {
  return hash128(provider, LABELS.schema, new TextEncoder().encode(schemaText));
}

/**
 * The key that wraps a suite-2 slot (docs/SPEC.md §4.1): BLAKE2b-256 keyed with the X-Wing shared
 * secret over `L(xwing-slot) ‖ u8 suite ‖ sessionId ‖ kid_i`, so it is bound to the suite, the
 * session and the recipient's kid.
 */
export function xwingSlotKey(
  provider: CryptoProvider,
  sharedSecret: Uint8Array,
  suite: number,
  sessionId: Uint8Array,
  recipientKid: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(32);
  provider.hash(
    out,
    concatBytes(LABELS.xwingSlot, Uint8Array.of(suite), sessionId, recipientKid),
    sharedSecret,
  );
  return out;
}
