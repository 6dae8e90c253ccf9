/**
 * Crypto primitive throughput for both providers: ops/s, median of 5 runs of ≥ 300 ms each after a
 * warm-up, one core. Run with `npm run bench:crypto`. Inputs are sized as sealpost uses them: 1 KiB
 * AEAD messages, a 66-byte keyed BLAKE2b-128 tag input, an 80-byte sealed-box payload, a 300-byte
 * header transcript for Ed25519; X-Wing (docs/PQ-NOTES.md) next to the sealed box it would replace.
 * `BENCH_CRYPTO_ONLY=<regex>` runs only the rows whose label matches (e.g. `'box seal|X-Wing'`).
 */
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { createCryptoProvider } from '../src/crypto/index.js';
import type { CryptoProvider, CryptoProviderName } from '../src/crypto/provider.js';

const RUNS = 5;
const RUN_MS = 300;
const WARMUP_MS = 150;

interface Operation {
  readonly label: string;
  /** Hot-path operations also get a bytes-allocated-per-call measurement. */
  readonly hot?: boolean;
  /** Prepares inputs and returns the operation to time. */
  readonly setup: (p: CryptoProvider) => () => void;
}

const OPERATIONS: Operation[] = [
  {
    label: 'AEAD XChaCha20-Poly1305 encrypt 1 KiB',
    hot: true,
    setup: (p) => {
      const key = p.randomBytes(32);
      const nonce = p.randomBytes(24);
      const aad = p.randomBytes(64);
      const msg = p.randomBytes(1024);
      const out = new Uint8Array(1024 + 16);
      return () => p.aeadEncrypt(out, msg, aad, nonce, key);
    },
  },
  {
    label: 'AEAD XChaCha20-Poly1305 decrypt 1 KiB',
    hot: true,
    setup: (p) => {
      const key = p.randomBytes(32);
      const nonce = p.randomBytes(24);
      const aad = p.randomBytes(64);
      const ct = new Uint8Array(1024 + 16);
      p.aeadEncrypt(ct, p.randomBytes(1024), aad, nonce, key);
      const out = new Uint8Array(1024);
      return () => {
        if (!p.aeadDecrypt(out, ct, aad, nonce, key)) throw new Error('bench: decrypt failed');
      };
    },
  },
  {
    label: 'BLAKE2b-128 keyed MAC (66 B)',
    hot: true,
    setup: (p) => {
      const key = p.randomBytes(32);
      const input = p.randomBytes(66);
      const out = new Uint8Array(16);
      return () => p.hash(out, input, key);
    },
  },
  {
    label: 'BLAKE2b-256 incremental, reused state (1 KiB)',
    hot: true,
    setup: (p) => {
      const st = p.createHash(32);
      const prefix = p.randomBytes(90);
      const body = p.randomBytes(1024);
      const out = new Uint8Array(32);
      return () => {
        st.reset();
        st.update(prefix);
        st.update(body);
        st.final(out);
      };
    },
  },
  {
    label: 'box seal (80 B)',
    setup: (p) => {
      const kp = p.boxKeyPair();
      const msg = p.randomBytes(80);
      return () => void p.boxSeal(msg, kp.publicKey);
    },
  },
  {
    label: 'box seal open (80 B)',
    setup: (p) => {
      const kp = p.boxKeyPair();
      const sealed = p.boxSeal(p.randomBytes(80), kp.publicKey);
      return () => {
        if (p.boxSealOpen(sealed, kp.publicKey, kp.secretKey) === null)
          throw new Error('bench: open failed');
      };
    },
  },
  {
    label: 'X-Wing encapsulate',
    setup: (p) => {
      const kp = p.xwingKeyPairFromSeed(p.randomBytes(32));
      return () => void p.xwingEncapsulate(kp.publicKey);
    },
  },
  {
    label: 'X-Wing decapsulate (expanded key held)',
    setup: (p) => {
      const key = p.xwingDecapsulationKey(p.randomBytes(32));
      const { ciphertext } = p.xwingEncapsulate(key.publicKey);
      return () => void key.decapsulate(ciphertext);
    },
  },
  {
    label: 'X-Wing decapsulate from the 32 B seed',
    setup: (p) => {
      const seed = p.randomBytes(32);
      const { ciphertext } = p.xwingEncapsulate(p.xwingKeyPairFromSeed(seed).publicKey);
      return () => void p.xwingDecapsulate(ciphertext, seed);
    },
  },
  {
    label: 'X-Wing key pair from seed',
    setup: (p) => {
      const seed = p.randomBytes(32);
      return () => void p.xwingKeyPairFromSeed(seed);
    },
  },
  {
    label: 'Ed25519 sign (300 B)',
    setup: (p) => {
      const kp = p.signKeyPair();
      const msg = p.randomBytes(300);
      return () => void p.signDetached(msg, kp.secretKey);
    },
  },
  {
    label: 'Ed25519 verify (300 B)',
    setup: (p) => {
      const kp = p.signKeyPair();
      const msg = p.randomBytes(300);
      const sig = p.signDetached(msg, kp.secretKey);
      return () => {
        if (!p.verifyDetached(sig, msg, kp.publicKey)) throw new Error('bench: verify failed');
      };
    },
  },
  {
    label: 'random 24 B nonce (randomFill)',
    hot: true,
    setup: (p) => {
      const out = new Uint8Array(24);
      return () => p.randomFill(out);
    },
  },
];

const ONLY = process.env['BENCH_CRYPTO_ONLY'];
const SELECTED =
  ONLY === undefined ? OPERATIONS : OPERATIONS.filter((o) => new RegExp(ONLY).test(o.label));

/** Runs `fn` in batches for at least `ms`; returns ops/s. */
function opsPerSecond(fn: () => void, ms: number): number {
  let batch = 1;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    now = performance.now();
    if (now - start < ms / 20) batch *= 2; // grow batches so the clock is read rarely
  }
  return ops / ((now - start) / 1000);
}

// A gc() handle without a command-line flag, so `npm run bench:crypto` needs no node options.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * JS heap bytes allocated per call: heap growth over 10^4 calls right after a full GC (10^4 calls of a
 * few hundred bytes stay inside the young generation, so no collection hides allocations).
 */
function bytesPerCall(fn: () => void): number {
  const n = 10_000;
  for (let i = 0; i < n; i++) fn();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) fn();
  return Math.max(0, (process.memoryUsage().heapUsed - before) / n);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const names: CryptoProviderName[] = ['sodium-native', 'libsodium-wrappers'];
const providers = await Promise.all(names.map((n) => createCryptoProvider(n)));
const results = new Map<string, number[]>();
const allocations = new Map<string, number[]>();

for (const op of SELECTED) {
  const row: number[] = [];
  const allocRow: number[] = [];
  for (const p of providers) {
    const fn = op.setup(p);
    opsPerSecond(fn, WARMUP_MS);
    const runs = Array.from({ length: RUNS }, () => opsPerSecond(fn, RUN_MS));
    row.push(median(runs));
    if (op.hot === true) allocRow.push(bytesPerCall(fn));
  }
  results.set(op.label, row);
  if (op.hot === true) allocations.set(op.label, allocRow);
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const xwingBackend = (providers[0] as { xwingBackend?: string }).xwingBackend ?? 'n/a';
console.log(
  `crypto primitives, ops/s (median of ${RUNS} × ${RUN_MS} ms), Node ${process.version}, ${cpu}; ` +
    `sodium-native X-Wing backend: ${xwingBackend}\n`,
);
const w0 = Math.max(...SELECTED.map((o) => o.label.length), 9);
const header = `| ${'operation'.padEnd(w0)} | ${names[0]!.padStart(13)} | ${names[1]!.padStart(18)} | native/wasm |`;
console.log(header);
console.log(`|${'-'.repeat(w0 + 2)}|${'-'.repeat(14)}:|${'-'.repeat(19)}:|${'-'.repeat(12)}:|`);
for (const [label, [a, b]] of results) {
  console.log(
    `| ${label.padEnd(w0)} | ${fmt(a!).padStart(13)} | ${fmt(b!).padStart(18)} | ${(a! / b!).toFixed(1).padStart(10)}× |`,
  );
}

console.log(`\nJS heap bytes allocated per call (hot path; callers pass the output buffers)\n`);
console.log(
  `| ${'operation'.padEnd(w0)} | ${names[0]!.padStart(13)} | ${names[1]!.padStart(18)} |`,
);
console.log(`|${'-'.repeat(w0 + 2)}|${'-'.repeat(14)}:|${'-'.repeat(19)}:|`);
for (const [label, [a, b]] of allocations) {
  console.log(
    `| ${label.padEnd(w0)} | ${a!.toFixed(0).padStart(13)} | ${b!.toFixed(0).padStart(18)} |`,
  );
}
