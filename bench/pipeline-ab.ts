/**
 * A/B of two versions of the pipeline with no Kafka client in it, in one process: loads
 * bench/pipeline-in-memory-run.ts (with its own rig: identities, directory, registry client) from
 * tree A and from tree B, and alternates them run by run (A B, B A, ...; one warm-up run each
 * first). A run is the real SealedProducer and SealedConsumer over the in-memory Transport, as
 * bench/pipeline-in-memory.ts (20,000 records, batches of 500, 2 in flight). Separate processes of
 * the same code were ±5–10 % apart on this machine; alternating in one process compares like with
 * like. Prints each side's median CPU per record (process.cpuUsage over the phase; under Node ≥ 23.9
 * also the main thread's alone, process.threadCpuUsage, when both trees report it) and the per-pair
 * ratio B/A (median, min–max), and in how many pairs B was lower.
 *
 *   npx tsx bench/pipeline-ab.ts --a DIR_A --b DIR_B [--pairs 12] [--messages 20000]
 *     [--variant sealed-1]
 *
 * DIR_A and DIR_B are checkouts with bench/pipeline-in-memory-run.ts (e.g. `git archive COMMIT | tar
 * -x -C DIR` with node_modules linked); the same directory twice is the A/A check.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as RunModule from './pipeline-in-memory-run.js';
import type * as RigModule from './pipeline-rig.js';
import { median, spread } from './pipeline-rig.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback?: string): string => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const PAIRS = Number(opt('pairs', '12'));
const MESSAGES = Number(opt('messages', '20000'));
const VARIANT = opt('variant', 'sealed-1') as RunModule.Variant;

/** One tree's bench: its own modules, rig and sample records. */
async function load(dir: string): Promise<() => Promise<RunModule.Figures>> {
  const from = (file: string) => pathToFileURL(join(resolve(dir), 'bench', file)).href;
  const run = (await import(from('pipeline-in-memory-run.ts'))) as typeof RunModule;
  const rigs = (await import(from('pipeline-rig.ts'))) as typeof RigModule;
  const rig = await rigs.makeRig();
  const samples = await rigs.sampleRecords(rig);
  return () => run.runVariant(VARIANT, rig, samples, MESSAGES);
}

const runs = { A: await load(opt('a')), B: await load(opt('b')) };
await runs.A();
await runs.B();
const pairs: { A: RunModule.Figures; B: RunModule.Figures }[] = [];
for (let i = 0; i < PAIRS; i++) {
  const [first, second] = i % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
  const one = await runs[first]();
  const two = await runs[second]();
  const pair = first === 'A' ? { A: one, B: two } : { A: two, B: one };
  pairs.push(pair);
  console.log(
    `pair ${i + 1}: A ${pair.A.produceCpuUs.toFixed(2)}/${pair.A.consumeCpuUs.toFixed(2)}, B ${pair.B.produceCpuUs.toFixed(2)}/${pair.B.consumeCpuUs.toFixed(2)} µs (producer/consumer)`,
  );
}
console.log(`\n${VARIANT}, ${PAIRS} pairs, ${MESSAGES} records per run, CPU µs per record:`);
console.log('| | A median | B median | B/A per pair (median, min–max) | B lower |');
console.log('|---|---:|---:|---|---:|');
const sides = ['produceCpuUs', 'consumeCpuUs', 'produceMainCpuUs', 'consumeMainCpuUs'] as const;
const names = {
  produceCpuUs: 'producer',
  consumeCpuUs: 'consumer',
  produceMainCpuUs: 'producer, main thread',
  consumeMainCpuUs: 'consumer, main thread',
};
// The main thread's rows under Node >= 23.9 only (process.threadCpuUsage), when both trees report it.
const reported = (p: RunModule.Figures, s: (typeof sides)[number]): boolean =>
  Number.isFinite((p as Partial<RunModule.Figures>)[s]);
for (const side of sides.filter((s) => pairs.every((p) => reported(p.A, s) && reported(p.B, s)))) {
  const ratios = pairs.map((p) => p.B[side] / p.A[side]);
  console.log(
    `| ${names[side]} | ${median(pairs.map((p) => p.A[side])).toFixed(2)} | ${median(pairs.map((p) => p.B[side])).toFixed(2)} | ${spread(ratios, 3)} | ${ratios.filter((r) => r < 1).length}/${PAIRS} |`,
  );
}
process.exit(0);
