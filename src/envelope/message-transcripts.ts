/**
 * Per-message transcripts over preallocated scratch buffers, shared by sealing and opening:
 *   ctx    = sessionHash ‖ u32 p ‖ u64 seq ‖ keyBinding
 *   aad    = L(aad) ‖ ctx
 *   digest = H(L(digest) ‖ ctx ‖ nonce ‖ u32 |ct| ‖ ct)
 *   tag_i  = MAC(macKey_i, L(tag) ‖ u8 i ‖ kid_i ‖ digest)
 *   msgSig = Ed25519(L(message-sig) ‖ ctx ‖ H(L(body) ‖ body))
 * One instance per session; not re-entrant (a session seals or opens one message at a time).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { writeU32, writeU64 } from './bytes.js';
import { HASH_BYTES, KID_BYTES, NONCE_BYTES, TAG_BYTES } from './constants.js';
import { LABELS } from './labels.js';

const CTX_MAX = HASH_BYTES + 4 + 8 + 1 + HASH_BYTES;

export class MessageTranscripts {
  readonly #provider: CryptoProvider;
  readonly #aad = new Uint8Array(LABELS.aad.length + CTX_MAX);
  #ctxLength = 0;
  #digestIn: Uint8Array;
  #keyIn: Uint8Array;
  readonly #tagIn = new Uint8Array(LABELS.tag.length + 1 + KID_BYTES + HASH_BYTES);
  readonly #sigIn = new Uint8Array(LABELS.messageSig.length + CTX_MAX + HASH_BYTES);
  #ctOffset = 0;
  // Views cached so a message does not allocate them again (each subarray is a heap object).
  readonly #kbHash: Uint8Array;
  readonly #aadViews: [Uint8Array, Uint8Array];
  /** ctx inside #aad (without its label), for a null record key and for a key. */
  readonly #ctxViews: [Uint8Array, Uint8Array];
  #keyView: Uint8Array;
  #viewsFor = -1;
  #nonceView: Uint8Array = new Uint8Array(0);
  #ctView: Uint8Array = new Uint8Array(0);
  #digestView: Uint8Array = new Uint8Array(0);
  /** The digest of the current message (after computeDigest). */
  readonly digest = new Uint8Array(HASH_BYTES);

  constructor(provider: CryptoProvider, sessionHash: Uint8Array, initialCiphertextBytes = 2048) {
    this.#provider = provider;
    this.#aad.set(LABELS.aad, 0);
    this.#aad.set(sessionHash, LABELS.aad.length);
    this.#digestIn = new Uint8Array(
      LABELS.digest.length + CTX_MAX + NONCE_BYTES + 4 + initialCiphertextBytes,
    );
    this.#digestIn.set(LABELS.digest, 0);
    this.#keyIn = new Uint8Array(LABELS.recordKey.length + 256);
    this.#keyIn.set(LABELS.recordKey, 0);
    this.#tagIn.set(LABELS.tag, 0);
    this.#sigIn.set(LABELS.messageSig, 0);
    const kbAt = LABELS.aad.length + HASH_BYTES + 4 + 8 + 1;
    this.#kbHash = this.#aad.subarray(kbAt, kbAt + HASH_BYTES);
    this.#aadViews = [this.#aad.subarray(0, kbAt), this.#aad.subarray(0, kbAt + HASH_BYTES)];
    this.#ctxViews = [
      this.#aad.subarray(LABELS.aad.length, kbAt),
      this.#aad.subarray(LABELS.aad.length, kbAt + HASH_BYTES),
    ];
    this.#keyView = this.#keyIn.subarray(0, LABELS.recordKey.length);
  }

  /** Sets the coordinates of the next message: partition, seq and the record key (null = none). */
  setContext(partition: number, seq: number, recordKey: Uint8Array | null): void {
    const a = this.#aad;
    let o = LABELS.aad.length + HASH_BYTES;
    o = writeU32(a, o, partition);
    o = writeU64(a, o, seq);
    if (recordKey === null) {
      a[o++] = 0;
    } else {
      a[o++] = 1;
      const need = LABELS.recordKey.length + recordKey.length;
      if (need > this.#keyIn.length) {
        this.#provider.memzero(this.#keyIn);
        const grown = new Uint8Array(Math.max(need, this.#keyIn.length * 2));
        grown.set(LABELS.recordKey, 0);
        this.#keyIn = grown;
        this.#keyView = new Uint8Array(0); // made again below, over the new buffer
      }
      this.#keyIn.set(recordKey, LABELS.recordKey.length);
      if (this.#keyView.length !== need) this.#keyView = this.#keyIn.subarray(0, need);
      this.#provider.hash(this.#kbHash, this.#keyView);
      o += HASH_BYTES;
    }
    this.#ctxLength = o - LABELS.aad.length;
  }

  /** The AEAD additional data for the current context. */
  aad(): Uint8Array {
    return this.#aadViews[this.#ctxLength === HASH_BYTES + 4 + 8 + 1 ? 0 : 1];
  }

  /** ctx of the current context (a view into the aad, after its label). */
  #ctx(): Uint8Array {
    return this.#ctxViews[this.#ctxLength === HASH_BYTES + 4 + 8 + 1 ? 0 : 1];
  }

  /**
   * Lays out the digest input for a ciphertext of `ctLength` bytes and returns the offset of the
   * nonce inside digestInput(); the ciphertext follows at nonce + 24 + 4.
   */
  prepareDigest(ctLength: number): number {
    const nonceOffset = LABELS.digest.length + this.#ctxLength;
    const need = nonceOffset + NONCE_BYTES + 4 + ctLength;
    if (need > this.#digestIn.length) {
      this.#provider.memzero(this.#digestIn);
      const grown = new Uint8Array(Math.max(need, this.#digestIn.length * 2));
      grown.set(LABELS.digest, 0);
      this.#digestIn = grown;
      this.#viewsFor = -1;
    }
    // ctx = aad minus its label, from a view made once (one native copy, no per-byte loop).
    const d = this.#digestIn;
    d.set(this.#ctx(), LABELS.digest.length);
    writeU32(d, nonceOffset + NONCE_BYTES, ctLength);
    this.#ctOffset = nonceOffset + NONCE_BYTES + 4;
    const viewsFor = this.#ctxLength * 0x1_0000_0000 + ctLength;
    if (viewsFor !== this.#viewsFor) {
      this.#viewsFor = viewsFor;
      this.#nonceView = d.subarray(nonceOffset, nonceOffset + NONCE_BYTES);
      this.#ctView = d.subarray(this.#ctOffset, this.#ctOffset + ctLength);
      this.#digestView = d.subarray(0, this.#ctOffset + ctLength);
    }
    return nonceOffset;
  }

  /** The digest input buffer (valid after prepareDigest). */
  digestInput(): Uint8Array {
    return this.#digestIn;
  }

  /** Where the ciphertext goes inside digestInput(). */
  ciphertextView(): Uint8Array {
    return this.#ctView;
  }

  /** Where the nonce goes inside digestInput() (valid after prepareDigest). */
  nonceView(): Uint8Array {
    return this.#nonceView;
  }

  /** digest = H(L(digest) ‖ ctx ‖ nonce ‖ u32 |ct| ‖ ct). */
  computeDigest(): void {
    this.#provider.hash(this.digest, this.#digestView);
  }

  /** tag_i = MAC(macKey_i, L(tag) ‖ u8 i ‖ kid_i ‖ digest), written into `out` (16 bytes). */
  computeTag(out: Uint8Array, macKey: Uint8Array, slot: number, kid: Uint8Array): void {
    const t = this.#tagIn;
    let o = LABELS.tag.length;
    t[o++] = slot;
    t.set(kid, o);
    o += KID_BYTES;
    t.set(this.digest, o);
    this.#provider.hash(out.length === TAG_BYTES ? out : out.subarray(0, TAG_BYTES), t, macKey);
  }

  /**
   * The message-signature transcript L(message-sig) ‖ ctx ‖ H(L(body) ‖ body), given the buffer
   * `labelledBody` = L(body) ‖ body.
   */
  messageSignatureInput(labelledBody: Uint8Array): Uint8Array {
    const s = this.#sigIn;
    let o = LABELS.messageSig.length;
    s.set(this.#ctx(), o);
    o += this.#ctxLength;
    this.#provider.hash(s.subarray(o, o + HASH_BYTES), labelledBody);
    return s.subarray(0, o + HASH_BYTES);
  }

  /** Zeros the scratch (it held record-key material and digests). */
  clear(): void {
    const p = this.#provider;
    p.memzero(this.#aad);
    p.memzero(this.#digestIn);
    p.memzero(this.#keyIn);
    p.memzero(this.#tagIn);
    p.memzero(this.#sigIn);
    p.memzero(this.digest);
  }
}
