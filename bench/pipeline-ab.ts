/**
 * A/B of two versions of the pipeline with no Kafka client in it, interleaved (A B, B A, A B, ...):
 * each run is one bench/pipeline-in-memory.ts process of tree A or tree B (the real SealedProducer
 * and SealedConsumer over the in-memory Transport; a warm-up round, then `--rounds` counted rounds,
 * whose median it reports). Prints each side's median CPU per record and the per-pair ratio B/A
 * (median, min–max), and how many pairs B was lower in.
 *
 *   npx tsx bench/pipeline-ab.ts --a DIR_A --b DIR_B [--pairs 10] [--rounds 3] [--messages 20000]
 *     [--variant sealed-1]
 *
 * DIR_A and DIR_B are checkouts with bench/pipeline-in-memory.ts (e.g. `git archive COMMIT | tar -x
 * -C DIR` with node_modules linked); the same directory twice is the A/A check.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { median, spread } from './pipeline-rig.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback?: string): string => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const dirs = { A: opt('a'), B: opt('b') };
const PAIRS = Number(opt('pairs', '10'));
const ROUNDS = opt('rounds', '3');
const MESSAGES = opt('messages', '20000');
const VARIANT = opt('variant', 'sealed-1');

interface Figures {
  produceCpuUs: number;
  consumeCpuUs: number;
}

function run(which: 'A' | 'B'): Figures {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(dirs[which], 'bench/pipeline-in-memory.ts'),
      '--only',
      VARIANT,
      '--rounds',
      ROUNDS,
      '--messages',
      MESSAGES,
    ],
    { cwd: dirs[which], encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const rounds = (
    JSON.parse(out.trim().split('\n').at(-1)!) as { rounds: Record<string, Figures>[] }
  ).rounds.map((r) => r[VARIANT]!);
  return {
    produceCpuUs: median(rounds.map((r) => r.produceCpuUs)),
    consumeCpuUs: median(rounds.map((r) => r.consumeCpuUs)),
  };
}

const pairs: { A: Figures; B: Figures }[] = [];
for (let i = 0; i < PAIRS; i++) {
  const first = i % 2 === 0 ? 'A' : 'B';
  const one = run(first);
  const two = run(first === 'A' ? 'B' : 'A');
  const pair = first === 'A' ? { A: one, B: two } : { A: two, B: one };
  pairs.push(pair);
  console.log(
    `pair ${i + 1}: A ${pair.A.produceCpuUs.toFixed(2)}/${pair.A.consumeCpuUs.toFixed(2)}, B ${pair.B.produceCpuUs.toFixed(2)}/${pair.B.consumeCpuUs.toFixed(2)} µs (producer/consumer)`,
  );
}
console.log(
  `\n${VARIANT}, ${PAIRS} pairs, CPU µs per record (median of ${ROUNDS} rounds per run):`,
);
console.log('| | A median | B median | B/A per pair (median, min–max) | B lower |');
console.log('|---|---:|---:|---|---:|');
for (const side of ['produceCpuUs', 'consumeCpuUs'] as const) {
  const ratios = pairs.map((p) => p.B[side] / p.A[side]);
  console.log(
    `| ${side === 'produceCpuUs' ? 'producer' : 'consumer'} | ${median(pairs.map((p) => p.A[side])).toFixed(2)} | ${median(pairs.map((p) => p.B[side])).toFixed(2)} | ${spread(ratios, 3)} | ${ratios.filter((r) => r < 1).length}/${PAIRS} |`,
  );
}
