/**
 * `npm run fuzz` — long property-based fuzzing of the envelope decoder and opener, suites 1 and 2
 * (X-Wing slots), with the same properties as test/unit/envelope/fuzz.test.ts. Default 1,200,000
 * cases: 45% random bytes behind a valid frame of either suite's schema id, 45% mutated envelopes
 * (suite-1 and suite-2 seeds) through the decoder, 10% mutated envelopes through the whole opener.
 * Options: `--cases N`, `--provider sodium-native|libsodium-wrappers`, `--seed S`.
 * Fails on any property violation, on an input slower than 250 ms, or when the heap keeps growing.
 */
import fc from 'fast-check';
import type { CryptoProviderName } from '../src/crypto/provider.js';
import {
  decoderOnMutations,
  decoderOnRandomBytes,
  makeFuzzTarget,
  openerOnMutations,
} from '../test/unit/envelope/support/fuzz-properties.js';
import { loadProvider } from '../test/unit/envelope/support/providers.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const total = Number(arg('cases', '1200000'));
const providerName = arg('provider', 'sodium-native') as CryptoProviderName;
let seed = Number(arg('seed', String(Math.floor(performance.timeOrigin) % 2 ** 31)));
const CHUNK = 50_000;
const MAX_INPUT_MS = 250;

const p = await loadProvider(providerName);
const t = makeFuzzTarget(p);
const plan = [
  {
    name: 'decoder/random-bytes',
    cases: Math.round(total * 0.45),
    property: decoderOnRandomBytes(t),
  },
  { name: 'decoder/mutations', cases: Math.round(total * 0.45), property: decoderOnMutations(t) },
  {
    name: 'opener/mutations',
    cases: total - 2 * Math.round(total * 0.45),
    property: openerOnMutations(t),
  },
] as const;

console.log(
  `fuzzing the envelope with ${providerName}: ${total.toLocaleString('en')} cases, seed ${seed}`,
);
const started = performance.now();
let done = 0;
let baselineHeap = 0;
for (const step of plan) {
  for (let run = 0; run < step.cases; run += CHUNK) {
    const numRuns = Math.min(CHUNK, step.cases - run);
    fc.assert(step.property as fc.IProperty<unknown[]>, { numRuns, seed: seed++ });
    done += numRuns;
    const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
    if (baselineHeap === 0) baselineHeap = heapMb;
    const elapsed = (performance.now() - started) / 1000;
    process.stdout.write(
      `\r${step.name.padEnd(22)} ${done.toLocaleString('en').padStart(10)} / ${total.toLocaleString('en')}  ` +
        `${Math.round(done / elapsed).toLocaleString('en')}/s  slowest input ${t.maxInputMs.toFixed(1)} ms  heap ${heapMb.toFixed(0)} MB   `,
    );
    if (t.maxInputMs > MAX_INPUT_MS)
      throw new Error(`an input took ${t.maxInputMs.toFixed(1)} ms (bound ${MAX_INPUT_MS} ms)`);
    if (heapMb > baselineHeap + 512)
      throw new Error(`heap grew from ${baselineHeap.toFixed(0)} MB to ${heapMb.toFixed(0)} MB`);
  }
}
t.opener.close();
console.log(
  `\nok: ${done.toLocaleString('en')} cases in ${((performance.now() - started) / 1000).toFixed(1)} s, slowest input ${t.maxInputMs.toFixed(1)} ms`,
);
