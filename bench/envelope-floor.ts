/**
 * The libsodium work one session-mode message must do, and nothing else (the "crypto floor" of
 * bench/envelope.ts and bench/envelope-ab.ts): for this bench's 1,019-byte record, the message key
 * derivation, the AEAD over the padded body, the BLAKE2b-256 digest and one keyed tag per recipient
 * (docs/SPEC.md §4–§5).
 */
import type { CryptoProvider } from '../src/crypto/provider.js';

export interface MessageFloor {
  /** What sealing one message must do in libsodium, for `recipients` tags. */
  readonly seal: () => void;
  /** What opening one message must do in libsodium (one tag: ours). */
  readonly open: () => void;
}

export function messageFloor(p: CryptoProvider, recipients: number): MessageFloor {
  const ctLen = 1136; // padmé(55 + 26 + 1017 + 1) + 16 for this record
  const padded = p.randomBytes(ctLen - 16);
  const ct = new Uint8Array(ctLen);
  const key = p.randomBytes(32);
  const nonce = p.randomBytes(24);
  const aad = p.randomBytes(77);
  p.aeadEncrypt(ct, padded, aad, nonce, key);
  const plainOut = new Uint8Array(ctLen - 16);
  const digestIn = p.randomBytes(ctLen + 106);
  const digest = new Uint8Array(32);
  const tagIn = p.randomBytes(50);
  const tag = new Uint8Array(16);
  const keyIn = p.randomBytes(36);
  const kb = new Uint8Array(32);
  return {
    seal: () => {
      p.hash(kb, keyIn);
      p.randomFill(nonce);
      p.aeadEncrypt(ct, padded, aad, nonce, key);
      p.hash(digest, digestIn);
      for (let i = 0; i < recipients; i++) p.hash(tag, tagIn, key);
    },
    open: () => {
      p.hash(kb, keyIn);
      p.hash(digest, digestIn);
      p.hash(tag, tagIn, key);
      if (!p.aeadDecrypt(plainOut, ct, aad, nonce, key)) throw new Error('floor');
    },
  };
}
