/**
 * A/B of two versions of the code through the broker, interleaved (A B A B ...): each run is one
 * `bench/profile-e2e.ts` process (setup, then the measured producer and consumer phases) in tree A
 * or tree B; prints each figure's median and the per-pair ratio B/A (medians), so a comparison
 * holds while the machine's load drifts. CPU per record is this process's user + system time over
 * the phase; the broker's and the registry's CPU are not in it. Run under Node ≥ 23.9 (its children
 * use the same Node), it also compares the main thread's CPU alone (`...MainCpuUs`).
 *
 *   npx tsx bench/ab-compare.ts --a DIR_A --b DIR_B [--pairs 6] [--variant sealed-1]
 *     [--messages 20000] [--a-args '...'] [--b-args '...']
 *
 * DIR_A and DIR_B are checkouts of the repository (e.g. `git archive COMMIT | tar -x -C DIR` with
 * node_modules linked); the same directory with different --a-args/--b-args compares options (for
 * example `--a-args --js-crc32c`).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name: string, fallback?: string): string => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const dirs = { A: opt('a'), B: opt('b') };
const extra = {
  A: opt('a-args', '').split(' ').filter(Boolean),
  B: opt('b-args', '').split(' ').filter(Boolean),
};
const PAIRS = Number(opt('pairs', '6'));
const VARIANT = opt('variant', 'sealed-1');
const MESSAGES = opt('messages', '20000');
const FIGURES = [
  'producePerSecond',
  'produceCpuUs',
  'produceMainCpuUs',
  'consumePerSecond',
  'consumeCpuUs',
  'consumeMainCpuUs',
] as const;
type Figures = Record<(typeof FIGURES)[number], number>;

function run(which: 'A' | 'B'): Figures {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(dirs[which], 'bench/profile-e2e.ts'),
      '--variant',
      VARIANT,
      '--messages',
      MESSAGES,
      ...extra[which],
    ],
    { cwd: dirs[which], encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as Figures;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const results: { A: Figures; B: Figures }[] = [];
for (let i = 0; i < PAIRS; i++) {
  // Alternate which goes first, so neither always runs right after the other.
  const [first, second] = i % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
  const r1 = run(first);
  const r2 = run(second);
  const pair = first === 'A' ? { A: r1, B: r2 } : { A: r2, B: r1 };
  results.push(pair);
  console.log(
    `pair ${i + 1}: ${FIGURES.filter((f) => typeof pair.A[f] === 'number')
      .map((f) => `${f} A ${pair.A[f]} B ${pair.B[f]}`)
      .join('; ')}`,
  );
}
console.log(
  `\n${VARIANT}, ${MESSAGES} records, ${PAIRS} pairs (A = ${dirs.A} ${extra.A.join(' ')}, B = ${dirs.B} ${extra.B.join(' ')})`,
);
console.log('figure | A median | B median | B/A per pair (median, min–max)');
for (const f of FIGURES) {
  // The main thread's CPU exists only where Node reports it (profile-e2e under Node ≥ 23.9).
  if (results.some((r) => typeof r.A[f] !== 'number' || typeof r.B[f] !== 'number')) continue;
  const ratios = results.map((r) => r.B[f] / r.A[f]);
  console.log(
    `${f} | ${median(results.map((r) => r.A[f])).toFixed(2)} | ${median(results.map((r) => r.B[f])).toFixed(2)} | ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
  );
}
