/**
 * `npm run fuzz:consumer-model` — the SealedConsumer model test (test/model/consumer-model.ts) with
 * many more and longer command sequences than `npm test` runs. Options: `--runs N` (default 20,000),
 * `--max-commands N` (default 25), `--seed S`, `--full` (also the commands left out for a known
 * consumer defect, see KNOWN_DEFECT_EXCLUDES). Fails with the seed, path, shrunk counterexample and
 * the broken invariants.
 */
import fc from 'fast-check';
import {
  consumerModelProperty,
  emptyStats,
  KNOWN_DEFECT_EXCLUDES,
  makeModelWorld,
} from '../test/model/consumer-model.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const runs = Number(arg('runs', '20000'));
const maxCommands = Number(arg('max-commands', '25'));
const seed = Number(arg('seed', String(Math.floor(performance.timeOrigin) % 2 ** 31)));
const exclude = process.argv.includes('--full') ? [] : KNOWN_DEFECT_EXCLUDES;

console.log(
  `consumer model: ${runs.toLocaleString('en')} sequences of ≤ ${maxCommands} commands, seed ${seed}`,
);
const world = await makeModelWorld();
const started = performance.now();
let code = 0;
try {
  const stats = emptyStats();
  await fc.assert(consumerModelProperty(world, { maxCommands, exclude, stats }), {
    numRuns: runs,
    seed,
  });
  console.log(`ok in ${((performance.now() - started) / 1000).toFixed(1)} s`, stats);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  if (err instanceof Error && err.cause instanceof Error) console.error(err.cause.message);
  code = 1;
} finally {
  await world.cleanup();
}
// Consumers killed mid-scan leave a pending scan timeout behind: do not wait for it.
process.exit(code);
