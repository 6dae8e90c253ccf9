/**
 * RandomPool (the pooled source behind the libsodium-wrappers provider): exact serving order, zeroing,
 * failure handling, and — with the real OS source — 10^6 draws without a repeat and a sane byte
 * distribution, both through the provider and through libsodium's own random hook.
 */
import { randomFillSync } from 'node:crypto';

import sodium from 'libsodium-wrappers';
import { describe, expect, it } from 'vitest';

import { createLibsodiumWrappersProvider } from '../../../src/crypto/libsodium-wrappers-provider.js';
import { RANDOM_POOL_DEFAULT_BYTES, RandomPool } from '../../../src/crypto/random-pool.js';
import { expectCryptoError } from './support/expect-crypto-error.js';

/** A deterministic source writing a running byte counter, recording every buffer it filled. */
function counterSource(): {
  fill: (out: Uint8Array) => void;
  calls: Uint8Array[];
  next: () => number;
} {
  let n = 0;
  const calls: Uint8Array[] = [];
  return {
    calls,
    next: () => n,
    fill: (out) => {
      calls.push(out);
      for (let i = 0; i < out.length; i++) out[i] = n++ & 0xff;
    },
  };
}

describe('RandomPool with a deterministic source', () => {
  it('serves the source stream in order, each byte once, across refills', () => {
    const src = counterSource();
    const pool = new RandomPool(src.fill, 64);
    const served: number[] = [];
    for (const len of [1, 7, 32, 24, 63, 0, 5, 10]) {
      const out = new Uint8Array(len);
      pool.fill(out);
      served.push(...out);
    }
    expect(served).toEqual(Array.from({ length: served.length }, (_, i) => i & 0xff));
    expect(src.calls.length).toBe(Math.ceil(served.length / 64));
  });

  it('serves large requests below the pool size from the pool too, in order', () => {
    const src = counterSource();
    const pool = new RandomPool(src.fill, 256);
    const served: number[] = [];
    for (const len of [100, 3, 200, 65, 255]) {
      const out = new Uint8Array(len);
      pool.fill(out);
      served.push(...out);
    }
    expect(served).toEqual(Array.from({ length: served.length }, (_, i) => i & 0xff));
    expect(src.calls.every((c) => c.length === 256)).toBe(true);
    expect(
      [...src.calls.at(-1)!.subarray(0, pool.size - pool.available)].every((x) => x === 0),
    ).toBe(true);
  });

  it('zeroes every served byte inside the pool at once', () => {
    const src = counterSource();
    const pool = new RandomPool(src.fill, 64);
    pool.fill(new Uint8Array(10));
    const inner = src.calls[0]!; // the pool's own buffer, as handed to the source
    expect([...inner.subarray(0, 10)].every((x) => x === 0)).toBe(true);
    expect([...inner.subarray(10)]).toEqual(Array.from({ length: 54 }, (_, i) => i + 10));
    expect(pool.available).toBe(54);
    pool.nextUint32();
    expect([...inner.subarray(0, 14)].every((x) => x === 0)).toBe(true);
    expect(inner[14]).toBe(14);
  });

  it('nextUint32 reads 4 bytes big-endian and never splices across a refill', () => {
    const src = counterSource();
    const pool = new RandomPool(src.fill, 64);
    expect(pool.nextUint32()).toBe(0x00010203);
    pool.fill(new Uint8Array(58)); // 2 bytes left: 62, 63
    const inner = src.calls[0]!;
    expect(pool.nextUint32()).toBe(0x40414243); // 62 and 63 discarded, fresh pool from 64
    expect([inner[0], inner[1], inner[2], inner[3]]).toEqual([0, 0, 0, 0]);
    expect(src.calls.length).toBe(2);
    const v = pool.nextUint32();
    expect(v).toBe(0x44454647);
    expect(v).toBeGreaterThanOrEqual(0);
  });

  it('requests of at least the pool size go straight to the source', () => {
    const src = counterSource();
    const pool = new RandomPool(src.fill, 64);
    const big = new Uint8Array(100);
    pool.fill(big);
    expect(src.calls).toHaveLength(1);
    expect(src.calls[0]).toBe(big);
    expect(pool.available).toBe(0); // the pool itself is still unfilled
  });

  it('a source that fails half-way serves nothing stale, and the next call refills', () => {
    let fail = true;
    const src = counterSource();
    const pool = new RandomPool((out) => {
      if (fail) {
        out.fill(0x55, 0, 8);
        throw new Error('entropy source unavailable');
      }
      src.fill(out);
    }, 64);
    expect(() => pool.fill(new Uint8Array(8))).toThrow('entropy source unavailable');
    expect(pool.available).toBe(0);
    fail = false;
    const out = new Uint8Array(8);
    pool.fill(out);
    expect([...out]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('close() zeroes the unserved bytes; later use throws CRYPTO_BAD_STATE', () => {
    const src = counterSource();
    const pool = new RandomPool(src.fill, 64);
    pool.fill(new Uint8Array(1));
    pool.close();
    expect([...src.calls[0]!].every((x) => x === 0)).toBe(true);
    expectCryptoError(() => pool.fill(new Uint8Array(1)), 'CRYPTO_BAD_STATE');
    expectCryptoError(() => pool.nextUint32(), 'CRYPTO_BAD_STATE');
  });

  it('refuses unusable sizes', () => {
    for (const size of [0, 63, 1.5, 2 ** 21]) {
      expectCryptoError(
        () => new RandomPool(randomFillSync, size),
        'CRYPTO_BAD_ARGUMENT',
        `size ${size}`,
      );
    }
    expect(new RandomPool(randomFillSync).size).toBe(RANDOM_POOL_DEFAULT_BYTES);
  });
});

const DRAWS = 1_000_000;
// libsodium's hook path costs 8 JS calls per 32-byte draw in WebAssembly: 2·10^5 draws keep it ~2 s.
const HOOK_DRAWS = 200_000;
const DRAW_BYTES = 32; // seeds, keys and MAC keys; nonces (24) are a prefix-sized case of the same stream

/**
 * Draws `draws` × 32 bytes from `draw`; returns how many 64-bit prefixes repeat (a full repeat implies a
 * prefix repeat; 10^6 random 64-bit prefixes collide with probability ~3·10^-8) and the worst
 * chi-square statistic over the byte histograms (overall and per byte position).
 * DataView reads the prefix big-endian; the order does not matter for equality.
 */
function drawAndMeasure(
  draws: number,
  draw: (out: Uint8Array) => void,
): { repeats: number; worstChiSquare: number } {
  const prefixes = new BigUint64Array(draws);
  const perPosition = new Float64Array(DRAW_BYTES * 256);
  const out = new Uint8Array(DRAW_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < draws; i++) {
    draw(out);
    prefixes[i] = view.getBigUint64(0);
    for (let j = 0; j < DRAW_BYTES; j++) perPosition[j * 256 + out[j]!]! += 1;
  }
  prefixes.sort();
  let repeats = 0;
  for (let i = 1; i < draws; i++) if (prefixes[i] === prefixes[i - 1]) repeats++;

  const chiSquare = (counts: Float64Array, total: number): number => {
    const expected = total / 256;
    let x = 0;
    for (const c of counts) x += ((c - expected) * (c - expected)) / expected;
    return x;
  };
  const overall = new Float64Array(256);
  let worst = 0;
  for (let j = 0; j < DRAW_BYTES; j++) {
    const row = perPosition.subarray(j * 256, (j + 1) * 256);
    row.forEach((c, v) => (overall[v]! += c));
    worst = Math.max(worst, chiSquare(row, draws));
  }
  worst = Math.max(worst, chiSquare(overall, draws * DRAW_BYTES));
  return { repeats, worstChiSquare: worst };
}

// 255 degrees of freedom: mean 255, sd ≈ 22.6. 400 is ≈ 5.5 sd in the Wilson–Hilferty
// approximation (p ≈ 2·10^-8 per histogram, 33 histograms): a failure means a biased source.
const CHI_SQUARE_BOUND = 400;

describe('pooled random source of the libsodium-wrappers provider (real OS randomness)', () => {
  it(`${DRAWS} draws of ${DRAW_BYTES} bytes via provider.randomFill: no repeats, sane distribution`, async () => {
    const p = await createLibsodiumWrappersProvider();
    const { repeats, worstChiSquare } = drawAndMeasure(DRAWS, (out) => p.randomFill(out));
    expect(repeats).toBe(0);
    expect(worstChiSquare).toBeLessThan(CHI_SQUARE_BOUND);
    expect(worstChiSquare).toBeGreaterThan(150); // a constant or counter stream would be far off too
  });

  it(`${HOOK_DRAWS} draws of ${DRAW_BYTES} bytes via libsodium's own randombytes_buf (the hook): no repeats`, async () => {
    await createLibsodiumWrappersProvider();
    const { repeats, worstChiSquare } = drawAndMeasure(HOOK_DRAWS, (out) =>
      out.set(sodium.randombytes_buf(DRAW_BYTES)),
    );
    expect(repeats).toBe(0);
    expect(worstChiSquare).toBeLessThan(CHI_SQUARE_BOUND);
  });

  it('libsodium key generation draws from the pool: one OS call per 4 KiB, not one per byte', async () => {
    let osCalls = 0;
    const p = await createLibsodiumWrappersProvider({
      randomSource: (out) => {
        osCalls++;
        randomFillSync(out);
      },
    });
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) keys.add(Buffer.from(p.boxKeyPair().secretKey).toString('hex'));
    expect(keys.size).toBe(100);
    // 100 keys × 32 bytes, 4 pool bytes per libsodium byte request = 12,800 bytes = 4 refills of 4 KiB.
    expect(osCalls).toBeGreaterThan(0);
    expect(osCalls).toBeLessThanOrEqual(4);
    const before = osCalls;
    const kp = p.boxKeyPair();
    const sealed = p.boxSeal(new Uint8Array(80), kp.publicKey); // ephemeral key from the pool too
    expect(p.boxSealOpen(sealed, kp.publicKey, kp.secretKey)).not.toBeNull();
    expect(osCalls - before).toBeLessThanOrEqual(1);
  });
});
