/**
 * The RFC 6962 Merkle tree (docs/AUDIT.md): known answers from RFC 6962's reference implementation
 * (the Certificate Transparency 8-leaf test tree: roots of every size, inclusion and consistency
 * proofs), then properties over random trees: every proof the tree hands out verifies, and one
 * flipped bit anywhere makes it fail.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  MerkleTreeBuilder,
  consistencyProof,
  emptyTreeHash,
  inclusionProof,
  leafHash,
  leafHashArray,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/audit/merkle-tree.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** The Certificate Transparency test tree for RFC 6962 §2.1: eight leaves and the roots of sizes 0..8. */
const CT_ENTRIES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(unhex);
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    index: 2,
    size: 3,
    proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'],
  },
];
const CT_CONSISTENCY = [
  {
    oldSize: 1,
    newSize: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    oldSize: 6,
    newSize: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    oldSize: 2,
    newSize: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

let crypto: CryptoProvider;
let ctLeaves: Uint8Array[];

beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
  ctLeaves = CT_ENTRIES.map((e) => leafHash(crypto, e));
});

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[Math.floor(bit / 8) % c.length]! ^= 1 << (bit % 8);
  return c;
}

describe('RFC 6962 known answers (Certificate Transparency test tree)', () => {
  it('the roots of sizes 0..8, from the builder and from stored leaf hashes', () => {
    expect(hex(emptyTreeHash(crypto))).toBe(CT_ROOTS[0]);
    const builder = new MerkleTreeBuilder(crypto);
    expect(hex(builder.root())).toBe(CT_ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      builder.appendLeafHash(ctLeaves[n - 1]!);
      expect(hex(builder.root()), `size ${n}`).toBe(CT_ROOTS[n]);
      expect(hex(treeRoot(crypto, leafHashArray(ctLeaves), n)), `size ${n}`).toBe(CT_ROOTS[n]);
    }
  });

  it('inclusion proofs are the reference ones and verify', () => {
    for (const v of CT_INCLUSION) {
      const proof = inclusionProof(crypto, leafHashArray(ctLeaves), v.index, v.size);
      expect(proof.map(hex)).toEqual(v.proof);
      const root = unhex(CT_ROOTS[v.size]!);
      expect(verifyInclusion(crypto, ctLeaves[v.index]!, v.index, v.size, proof, root)).toBe(true);
    }
  });

  it('consistency proofs are the reference ones and verify', () => {
    for (const v of CT_CONSISTENCY) {
      const proof = consistencyProof(crypto, leafHashArray(ctLeaves), v.oldSize, v.newSize);
      expect(proof.map(hex)).toEqual(v.proof);
      const ok = verifyConsistency(
        crypto,
        v.oldSize,
        v.newSize,
        proof,
        unhex(CT_ROOTS[v.oldSize]!),
        unhex(CT_ROOTS[v.newSize]!),
      );
      expect(ok).toBe(true);
    }
  });

  it('refuses malformed arguments instead of verifying them', () => {
    const root8 = unhex(CT_ROOTS[8]!);
    const proof = inclusionProof(crypto, leafHashArray(ctLeaves), 0, 8);
    expect(verifyInclusion(crypto, ctLeaves[0]!, 8, 8, proof, root8)).toBe(false);
    expect(verifyInclusion(crypto, ctLeaves[0]!, -1, 8, proof, root8)).toBe(false);
    expect(verifyInclusion(crypto, ctLeaves[0]!, 0, 8, proof.slice(0, 2), root8)).toBe(false);
    expect(verifyInclusion(crypto, ctLeaves[0]!, 0, 8, [...proof, proof[0]!], root8)).toBe(false);
    expect(verifyInclusion(crypto, ctLeaves[0]!, 0, 8, [new Uint8Array(31)], root8)).toBe(false);
    expect(verifyConsistency(crypto, 9, 8, [], root8, root8)).toBe(false);
    expect(verifyConsistency(crypto, 3, 8, [], unhex(CT_ROOTS[3]!), root8)).toBe(false);
    expect(verifyConsistency(crypto, 8, 8, [], root8, unhex(CT_ROOTS[7]!))).toBe(false);
    expect(() => inclusionProof(crypto, leafHashArray(ctLeaves), 8, 8)).toThrow(RangeError);
    expect(() => consistencyProof(crypto, leafHashArray(ctLeaves), 5, 9)).toThrow(RangeError);
  });

  it('a builder restored from its saved right edge continues the same tree', () => {
    const a = new MerkleTreeBuilder(crypto);
    for (const h of ctLeaves.slice(0, 5)) a.appendLeafHash(h);
    const b = new MerkleTreeBuilder(crypto, { size: a.size, edge: a.edge });
    for (const h of ctLeaves.slice(5)) b.appendLeafHash(h);
    expect(hex(b.root())).toBe(CT_ROOTS[8]);
    expect(() => new MerkleTreeBuilder(crypto, { size: 5, edge: a.edge.slice(1) })).toThrow(
      RangeError,
    );
  });
});

describe('properties over random trees', () => {
  const tree = fc
    .array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 70 })
    .map((entries) => entries.map((e) => leafHash(crypto, e)));

  it('every inclusion proof verifies against the head; a flipped bit in leaf, proof or root fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(), (leaves, a, b, bit) => {
        const size = 1 + (a % leaves.length);
        const index = b % size;
        const src = leafHashArray(leaves);
        const root = treeRoot(crypto, src, size);
        const proof = inclusionProof(crypto, src, index, size);
        expect(verifyInclusion(crypto, leaves[index]!, index, size, proof, root)).toBe(true);
        expect(
          verifyInclusion(crypto, flipBit(leaves[index]!, bit), index, size, proof, root),
        ).toBe(false);
        expect(
          verifyInclusion(crypto, leaves[index]!, index, size, proof, flipBit(root, bit)),
        ).toBe(false);
        if (proof.length > 0) {
          const at = bit % proof.length;
          const bad = proof.map((p, i) => (i === at ? flipBit(p, bit) : p));
          expect(verifyInclusion(crypto, leaves[index]!, index, size, bad, root)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every consistency proof between sizes m ≤ n verifies; a flipped bit fails', () => {
    fc.assert(
      fc.property(tree, fc.nat(), fc.nat(), fc.nat(), (leaves, a, b, bit) => {
        const n = 1 + (a % leaves.length);
        const m = b % (n + 1);
        const src = leafHashArray(leaves);
        const oldRoot = treeRoot(crypto, src, m);
        const newRoot = treeRoot(crypto, src, n);
        const proof = consistencyProof(crypto, src, m, n);
        expect(verifyConsistency(crypto, m, n, proof, oldRoot, newRoot)).toBe(true);
        if (m > 0) {
          expect(verifyConsistency(crypto, m, n, proof, flipBit(oldRoot, bit), newRoot)).toBe(
            false,
          );
          expect(verifyConsistency(crypto, m, n, proof, oldRoot, flipBit(newRoot, bit))).toBe(
            false,
          );
        }
        if (proof.length > 0) {
          const at = bit % proof.length;
          const bad = proof.map((p, i) => (i === at ? flipBit(p, bit) : p));
          expect(verifyConsistency(crypto, m, n, bad, oldRoot, newRoot)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the incremental builder agrees with the stored-leaf root at every size', () => {
    fc.assert(
      fc.property(tree, (leaves) => {
        const builder = new MerkleTreeBuilder(crypto);
        const src = leafHashArray(leaves);
        for (let i = 0; i < leaves.length; i++) {
          builder.appendLeafHash(leaves[i]!);
          expect(hex(builder.root())).toBe(hex(treeRoot(crypto, src, i + 1)));
        }
      }),
      { numRuns: 50 },
    );
  });
});
