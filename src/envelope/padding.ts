/**
 * Padding of the plaintext before encryption: one 0x80 byte then zeros up to the padded length.
 * The policy is the sender's; openers accept any correctly padded plaintext.
 */

/** How the sender pads: padmé (default: leaks O(log log n) bits of the length), a fixed block, or none. */
export type PaddingPolicy =
  | { readonly kind: 'padme' }
  | { readonly kind: 'block'; readonly blockBytes: number }
  | { readonly kind: 'none' };

export const DEFAULT_PADDING: PaddingPolicy = { kind: 'padme' };

/**
 * Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication with
 * PURBs"): rounds L up to a multiple of 2^(⌊log2 L⌋ − ⌊log2 ⌊log2 L⌋⌋ − 1), at most ~12% overhead.
 */
export function padmeLength(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const lastBits = e - s;
  const mask = 2 ** lastBits;
  return Math.ceil(length / mask) * mask;
}

/** Total padded length for a plaintext of `length` bytes (the 0x80 marker included). */
export function paddedLength(length: number, policy: PaddingPolicy): number {
  const minimal = length + 1;
  switch (policy.kind) {
    case 'padme':
      return padmeLength(minimal);
    case 'block':
      return Math.ceil(minimal / policy.blockBytes) * policy.blockBytes;
    case 'none':
      return minimal;
  }
}

/** Writes the 0x80 marker at `from` and zeros up to `to` (exclusive). */
export function writePadding(buf: Uint8Array, from: number, to: number): void {
  buf[from] = 0x80;
  buf.fill(0, from + 1, to);
}

/** Length of the plaintext inside `padded[0, length)`, or -1 if the padding is not 0x80 0x00*. */
export function unpaddedLength(padded: Uint8Array, length: number): number {
  let i = length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== 0x80) return -1;
  return i;
}
