/**
 * ML-KEM-768 vectors — C2SP CCTV (intermediate, unlucky sampling, strcmp, bad-modulus keys) and
 * Wycheproof (decapsulation, encapsulation-key checks, expanded-key decapsulation), vendored under
 * test/vectors/third-party/ — against the ML-KEM the provider exposes: node:crypto's ML-KEM-768 on
 * Node ≥ 24.7, the primitive the native X-Wing path is built from, through the same key imports
 * (src/crypto/xwing-node.ts). libsodium-wrappers exposes ML-KEM only inside X-Wing; its X-Wing is
 * checked by xwing.test.ts and hpke-xwing.test.ts. Without native ML-KEM (Node < 24.7) these suites
 * are skipped — a runtime condition, named in the suite titles; CI runs them on Node 24.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { NATIVE_XWING_NODE_VERSION } from '../../../src/crypto/sodium-native-provider.js';
import { nodeMlKem768 } from '../../../src/crypto/xwing-node.js';
import {
  fromHex,
  readThirdPartyVectorJson,
  THIRD_PARTY_VECTORS_DIR,
  toHex,
} from '../../support/third-party-vectors.js';
import { expectCryptoError } from './support/expect-crypto-error.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const NODE_HAS_NATIVE_MLKEM = major > 24 || (major === 24 && minor >= 7);
const kem = nodeMlKem768({ memzero: (b) => b.fill(0) });
const HAS = kem !== null;
const SUFFIX = HAS
  ? ''
  : ` — SKIPPED: node:crypto has no ML-KEM-768 on Node ${process.versions.node} (needs ${NATIVE_XWING_NODE_VERSION})`;
const K = () => {
  if (kem === null) throw new Error('no native ML-KEM-768');
  return kem;
};

/** CCTV text files: `name = hex` lines, blocks starting again at `first`. */
function cctvBlocks(file: string, first: string): Record<string, string>[] {
  const text = readFileSync(resolve(THIRD_PARTY_VECTORS_DIR, 'cctv-mlkem', file), 'utf8');
  const blocks: Record<string, string>[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+) = ([0-9a-f]+)$/.exec(line);
    if (m === null) continue;
    const [, name, hex] = m as unknown as [string, string, string];
    if (name === first) blocks.push({});
    const b = blocks[blocks.length - 1];
    if (b !== undefined && b[name] === undefined) b[name] = hex; // first occurrence (intermediate reuses names)
  }
  return blocks;
}

it(`node:crypto exposes ML-KEM-768 exactly when Node >= ${NATIVE_XWING_NODE_VERSION} (here ${process.versions.node}: ${HAS ? 'the ML-KEM vector suites run' : 'the ML-KEM vector suites are skipped'})`, () => {
  expect(HAS).toBe(NODE_HAS_NATIVE_MLKEM);
});

describe.runIf(HAS)(`C2SP CCTV ML-KEM-768 (node:crypto)${SUFFIX}`, () => {
  // These CCTV files target FIPS 203 ipd: its KeyGen hashes G(d) where final FIPS 203 hashes
  // G(d ‖ k), so their ek/dk come from a different KeyGen than node:crypto's (final) one. Decaps is
  // unchanged between the two, so the expanded dk, c and K are checked; KeyGen is checked by
  // Wycheproof's mlkem_768_test below (final FIPS 203 seeds).
  it.each([
    ['intermediate', 'intermediate-ML-KEM-768.txt'],
    ['unlucky sampling', 'unluckysample-ML-KEM-768.txt'],
  ])(
    '%s: Decaps(dk, c) → K with the expanded dk (KeyGen of these files is FIPS 203 ipd)',
    (_, file) => {
      const blocks = cctvBlocks(file, 'd');
      expect(blocks.length).toBe(1);
      for (const v of blocks) {
        const key = K().decapsulationKeyFromExpanded(fromHex(v.dk!));
        expect(toHex(key.decapsulate(fromHex(v.c!)))).toBe(v.K);
      }
    },
  );

  it('strcmp: ciphertexts with an early zero byte take the implicit-rejection path', () => {
    const blocks = cctvBlocks('strcmp-ML-KEM-768.txt', 'dk');
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    for (const v of blocks)
      expect(
        toHex(K().decapsulationKeyFromExpanded(fromHex(v.dk!)).decapsulate(fromHex(v.c!))),
      ).toBe(v.K);
  });

  it('modulus: every encapsulation key with a coefficient ≥ q is refused (CRYPTO_BAD_ARGUMENT)', () => {
    const lines = gunzipSync(
      readFileSync(resolve(THIRD_PARTY_VECTORS_DIR, 'cctv-mlkem/modulus-ML-KEM-768.txt.gz')),
    )
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    expect(lines.length).toBe(780);
    let refused = 0;
    for (const hex of lines) {
      try {
        K().encapsulate(fromHex(hex));
      } catch (err) {
        if ((err as { code?: string }).code === 'CRYPTO_BAD_ARGUMENT') refused++;
      }
    }
    expect(refused).toBe(lines.length);
  });
});

interface WycheproofFile<T> {
  testGroups: { tests: (T & { tcId: number; result: string; comment?: string })[] }[];
}
const tests = <T>(file: string) =>
  (readThirdPartyVectorJson(`wycheproof/${file}`) as WycheproofFile<T>).testGroups.flatMap(
    (g) => g.tests,
  );

/** A case's verdict: what `run` says, `invalid` when it throws one of the `refused` codes, else `error <tcId>`. */
function verdict(tcId: number, refused: readonly string[], run: () => string): string {
  try {
    return run();
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code !== undefined && refused.includes(code) ? 'invalid' : `error ${tcId}`;
  }
}

describe.runIf(HAS)(`Wycheproof ML-KEM-768 (node:crypto)${SUFFIX}`, () => {
  it('mlkem_768_test: KeyGen(seed) → ek and Decaps(c) → K for valid cases; wrong seed or ciphertext sizes refused', () => {
    const cases = tests<{ seed: string; ek?: string; c: string; K: string }>('mlkem_768_test.json');
    expect(cases.length).toBe(193);
    const verdicts = cases.map((t) =>
      verdict(t.tcId, ['CRYPTO_BAD_LENGTH'], () => {
        const pair = K().keyPairFromSeed(fromHex(t.seed));
        const ekOk = t.ek === undefined || toHex(pair.encapsulationKey) === t.ek;
        const k = toHex(pair.key.decapsulate(fromHex(t.c)));
        return ekOk && k === t.K ? 'valid' : `mismatch ${t.tcId}`;
      }),
    );
    expect(verdicts).toEqual(cases.map((t) => t.result));
  });

  it('mlkem_768_encaps_test: unreduced or mis-sized keys refused; every valid key encapsulates (random: sizes and round trip not checkable without dk)', () => {
    const cases = tests<{ ek: string }>('mlkem_768_encaps_test.json');
    expect(cases.length).toBe(265);
    const verdicts = cases.map((t) =>
      verdict(t.tcId, ['CRYPTO_BAD_LENGTH', 'CRYPTO_BAD_ARGUMENT'], () => {
        const r = K().encapsulate(fromHex(t.ek));
        return r.ciphertext.length === 1088 && r.sharedKey.length === 32
          ? 'valid'
          : `sizes ${t.tcId}`;
      }),
    );
    expect(verdicts).toEqual(cases.map((t) => t.result));
  });

  it('mlkem_768_semi_expanded_decaps_test: expanded dk decapsulates; bad dk (hash check, sizes) and bad ciphertext sizes refused', () => {
    const cases = tests<{ dk: string; c: string; K?: string }>(
      'mlkem_768_semi_expanded_decaps_test.json',
    );
    expect(cases.length).toBe(9);
    const verdicts = cases.map((t) =>
      verdict(t.tcId, ['CRYPTO_BAD_LENGTH', 'CRYPTO_BAD_ARGUMENT'], () => {
        const k = toHex(K().decapsulationKeyFromExpanded(fromHex(t.dk)).decapsulate(fromHex(t.c)));
        return k === t.K ? 'valid' : `mismatch ${t.tcId}`;
      }),
    );
    expect(verdicts).toEqual(cases.map((t) => t.result));
  });

  it('refuses wrong sizes before calling node:crypto', () => {
    expectCryptoError(() => K().keyPairFromSeed(new Uint8Array(63)), 'CRYPTO_BAD_LENGTH');
    expectCryptoError(() => K().encapsulate(new Uint8Array(1183)), 'CRYPTO_BAD_LENGTH');
    expectCryptoError(
      () => K().decapsulationKeyFromExpanded(new Uint8Array(2399)),
      'CRYPTO_BAD_LENGTH',
    );
  });
});
