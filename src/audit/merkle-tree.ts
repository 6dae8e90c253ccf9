import type { CryptoProvider } from '../crypto/provider.js';
import { SHA256_BYTES } from '../crypto/provider.js';

/**
 * The RFC 6962 Merkle tree of the audit log (docs/AUDIT.md): the hashing every transparency-log tool
 * understands (RFC 9162 §2.1; Go's golang.org/x/mod/sumdb/tlog), so an auditor checks our tree heads,
 * inclusion proofs and consistency proofs with tools they already trust.
 *
 *   leaf hash  = SHA-256(0x00 ‖ entry)
 *   node hash  = SHA-256(0x01 ‖ left ‖ right)
 *   MTH({})    = SHA-256("")
 *   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
 *
 * Pure: no I/O; leaves come in through a `LeafHashes` reader, so a store can serve them lazily.
 */
export const MERKLE_HASH_BYTES = SHA256_BYTES;

/** The one operation the tree needs from the crypto provider. */
export type Sha256 = Pick<CryptoProvider, 'sha256'>;

/** Random access to the leaf hashes of a log, `size` of them. */
export interface LeafHashes {
  readonly size: number;
  /** The leaf hash at `index` (0 ≤ index < size). */
  at(index: number): Uint8Array;
}

/** SHA-256(0x00 ‖ entry). */
export function leafHash(crypto: Sha256, entry: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + entry.length);
  input[0] = 0x00;
  input.set(entry, 1);
  const out = new Uint8Array(MERKLE_HASH_BYTES);
  crypto.sha256(out, input);
  return out;
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(crypto: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array {
  requireHash('left', left);
  requireHash('right', right);
  const input = new Uint8Array(1 + 2 * MERKLE_HASH_BYTES);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + MERKLE_HASH_BYTES);
  const out = new Uint8Array(MERKLE_HASH_BYTES);
  crypto.sha256(out, input);
  return out;
}

/** The root of the empty tree, SHA-256 of the empty string. */
export function emptyTreeHash(crypto: Sha256): Uint8Array {
  const out = new Uint8Array(MERKLE_HASH_BYTES);
  crypto.sha256(out, new Uint8Array(0));
  return out;
}

/**
 * An append-only tree that keeps only its right edge: the roots of the perfect subtrees that make up
 * the first `size` leaves (one per set bit of size, largest first), so the head of a log of any
 * length costs O(log n) memory. The edge can be saved and restored to continue after a restart.
 */
export class MerkleTreeBuilder {
  readonly #crypto: Sha256;
  #size: number;
  /** Perfect-subtree roots, left to right; their sizes are the set bits of #size, high to low. */
  readonly #edge: Uint8Array[];

  constructor(crypto: Sha256, state?: { size: number; edge: readonly Uint8Array[] }) {
    this.#crypto = crypto;
    if (state === undefined) {
      this.#size = 0;
      this.#edge = [];
      return;
    }
    if (!Number.isSafeInteger(state.size) || state.size < 0) {
      throw new RangeError('tree size out of range');
    }
    if (state.edge.length !== popCount(state.size)) {
      throw new RangeError('right edge does not match the tree size');
    }
    for (const h of state.edge) requireHash('edge hash', h);
    this.#size = state.size;
    this.#edge = state.edge.map((h) => Uint8Array.from(h));
  }

  get size(): number {
    return this.#size;
  }

  /** The right edge, to save beside the log (copies). */
  get edge(): Uint8Array[] {
    return this.#edge.map((h) => Uint8Array.from(h));
  }

  /** Appends one leaf by its leaf hash (see leafHash). */
  appendLeafHash(hash: Uint8Array): void {
    requireHash('leaf hash', hash);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('tree is full');
    let carry: Uint8Array = Uint8Array.from(hash);
    // Each trailing one bit of the old size is a perfect subtree of the same height to merge with.
    for (let s = this.#size; s % 2 === 1; s = Math.floor(s / 2)) {
      const left = this.#edge.pop();
      if (left === undefined) throw new Error('right edge underflow'); // unreachable: edge ↔ size
      carry = nodeHash(this.#crypto, left, carry);
    }
    this.#edge.push(carry);
    this.#size++;
  }

  /** The tree head MTH(D[size]). */
  root(): Uint8Array {
    const last = this.#edge.length - 1;
    if (last < 0) return emptyTreeHash(this.#crypto);
    let hash = this.#edge[last] as Uint8Array;
    for (let i = last - 1; i >= 0; i--)
      hash = nodeHash(this.#crypto, this.#edge[i] as Uint8Array, hash);
    return hash;
  }
}

/** MTH(D[start:end]) over stored leaf hashes, in O(end − start) hashes and O(log n) memory. */
export function subtreeRoot(
  crypto: Sha256,
  leaves: LeafHashes,
  start: number,
  end: number,
): Uint8Array {
  if (!(0 <= start && start <= end && end <= leaves.size))
    throw new RangeError('range out of tree');
  const builder = new MerkleTreeBuilder(crypto);
  for (let i = start; i < end; i++) builder.appendLeafHash(leaves.at(i));
  return builder.root();
}

/** MTH of the first `size` leaves (default: all). */
export function treeRoot(crypto: Sha256, leaves: LeafHashes, size = leaves.size): Uint8Array {
  return subtreeRoot(crypto, leaves, 0, size);
}

/**
 * The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1,
 * PATH(m, D[n])): sibling hashes from the leaf up.
 */
export function inclusionProof(
  crypto: Sha256,
  leaves: LeafHashes,
  index: number,
  size = leaves.size,
): Uint8Array[] {
  requireSize(size, leaves.size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new RangeError('leaf index out of tree');
  }
  const path: Uint8Array[] = [];
  // PATH is recursive with the sibling appended after the sub-path; walk down, then reverse.
  const down: Uint8Array[] = [];
  let start = 0;
  let end = size;
  let m = index;
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m < k) {
      down.push(subtreeRoot(crypto, leaves, start + k, end));
      end = start + k;
    } else {
      down.push(subtreeRoot(crypto, leaves, start, start + k));
      start += k;
      m -= k;
    }
  }
  for (let i = down.length - 1; i >= 0; i--) path.push(down[i] as Uint8Array);
  return path;
}

/**
 * The consistency proof between the trees of the first `oldSize` and `newSize` leaves (RFC 9162
 * §2.1.4.1, PROOF(m, D[n])). Empty when oldSize is 0 or equals newSize.
 */
export function consistencyProof(
  crypto: Sha256,
  leaves: LeafHashes,
  oldSize: number,
  newSize = leaves.size,
): Uint8Array[] {
  requireSize(newSize, leaves.size);
  if (!Number.isSafeInteger(oldSize) || oldSize < 0 || oldSize > newSize) {
    throw new RangeError('old tree size out of range');
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  // SUBPROOF(m, D[start:end], b), unrolled: each step appends one hash after the deeper ones.
  const down: Uint8Array[] = [];
  let start = 0;
  let end = newSize;
  let m = oldSize;
  let whole = true;
  while (m !== end - start) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m <= k) {
      down.push(subtreeRoot(crypto, leaves, start + k, end));
      end = start + k;
    } else {
      down.push(subtreeRoot(crypto, leaves, start, start + k));
      start += k;
      m -= k;
      whole = false;
    }
  }
  // SUBPROOF(m, D[m], false) = {MTH(D[m])}; with b = true it is empty.
  if (!whole) down.push(subtreeRoot(crypto, leaves, start, end));
  return down.reverse();
}

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2). False for any malformed input; never throws on
 * what an untrusted proof carries.
 */
export function verifyInclusion(
  crypto: Sha256,
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(crypto, p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(crypto, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/**
 * Verifies a consistency proof between tree heads (RFC 9162 §2.1.4.2). An empty old tree is
 * consistent with every tree (empty proof); equal sizes need equal roots and an empty proof.
 */
export function verifyConsistency(
  crypto: Sha256,
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !proof.every(isHash)) return false;
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  if (oldSize === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(crypto, c, fr);
      sr = nodeHash(crypto, c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(crypto, sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

/** Leaf hashes held in memory (tests, small logs). */
export function leafHashArray(hashes: readonly Uint8Array[]): LeafHashes {
  return {
    size: hashes.length,
    at(index: number): Uint8Array {
      const h = hashes[index];
      if (h === undefined) throw new RangeError('leaf index out of tree');
      return h;
    },
  };
}

function largestPowerOfTwoBelow(n: number): number {
  // n ≥ 2 here; 2^⌊log2(n − 1)⌋, exact for every safe integer.
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function popCount(n: number): number {
  let count = 0;
  for (let s = n; s > 0; s = Math.floor(s / 2)) count += s % 2;
  return count;
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === MERKLE_HASH_BYTES;
}

function requireHash(name: string, h: unknown): asserts h is Uint8Array {
  if (!isHash(h)) throw new RangeError(`${name} must be ${MERKLE_HASH_BYTES} bytes`);
}

function requireSize(size: number, available: number): void {
  if (!isSize(size) || size > available) throw new RangeError('tree size out of range');
}

/** Hashes are public; a plain comparison is fine. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
