/**
 * The named, reproducible inputs of the envelope vectors (test/vectors/*.vector, docs/SPEC.md §9),
 * shared by scripts/make-vectors.ts (suite 1) and suite2-vectors.ts (suite 2): keys and randomness are
 * BLAKE2b of a label, so a vector's bytes say where they came from.
 */
import type { CryptoProvider, KeyPair } from '../../../../src/crypto/provider.js';
import { kid } from '../../../../src/envelope/index.js';

/** UTF-8 bytes of `s`. */
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The labelled inputs computed with provider `p`. */
export function vectorInputs(p: CryptoProvider): {
  /** BLAKE2b-256 of a label (key seeds). */
  readonly h32: (label: string) => Uint8Array;
  /** A random source writing BLAKE2b-512 of `label/counter` blocks, so a vector's randomness is named. */
  readonly deterministic: (label: string) => (out: Uint8Array) => void;
  /** A party's Ed25519 signing key pair (the same in both suites' vectors). */
  readonly signKeyPair: (name: string) => KeyPair;
  /** The namespace: kid of the vectors' directory authority. */
  readonly namespace: Uint8Array;
} {
  const h32 = (label: string): Uint8Array => {
    const out = new Uint8Array(32);
    p.hash(out, text(label));
    return out;
  };
  const authority = p.signKeyPairFromSeed(h32('sealpost vector authority'));
  return {
    h32,
    signKeyPair: (name) => p.signKeyPairFromSeed(h32(`sealpost vector signing key ${name}`)),
    namespace: kid(p, 'ed25519', authority.publicKey),
    deterministic: (label) => {
      let counter = 0;
      return (out) => {
        for (let o = 0; o < out.length; o += 64) {
          const block = new Uint8Array(64);
          p.hash(block, text(`${label}/${counter++}`));
          out.set(block.subarray(0, Math.min(64, out.length - o)), o);
        }
      };
    },
  };
}

/** A copy of `v` with the low bit of byte `at` flipped. */
export function flipBit(v: Uint8Array, at: number): Uint8Array {
  const m = v.slice();
  m[at]! ^= 0x01;
  return m;
}
