/**
 * Where a pipeline allocates, per record (docs/PERFORMANCE.md "Where the time goes"): V8's sampling
 * heap profiler over one measured phase of bench/pipeline-in-memory.ts's run (the real SealedProducer
 * or SealedConsumer over the in-memory Transport), counting every sampled allocation, including the
 * objects the next scavenge or mark-compact collects — the garbage that keeps V8's collector (and its
 * helper threads) busy. Bytes are sampled (one sample per `--interval` bytes on average), so small
 * sites are estimates; the total is within a few per cent.
 *
 *   npx tsx bench/alloc-profile.ts [--variant sealed-1|plain] [--phase consume|produce]
 *     [--messages 60000] [--interval 1024] [--top 40]
 *
 * One unmeasured warm-up run comes first; the profile covers the second run's phase alone. Prints
 * the sampled bytes per record by allocating function (the leaf frame, as the profiler reports it)
 * and the total; the in-memory transport's own copies (src/kafka/in-memory/) are a test fake's, not
 * a real client's.
 */
import { Session } from 'node:inspector';
import { runVariant, VARIANTS, type Variant } from './pipeline-in-memory-run.js';
import { makeRig, sampleRecords } from './pipeline-rig.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const VARIANT = opt('variant', 'sealed-1') as Variant;
if (!VARIANTS.includes(VARIANT)) throw new Error(`unknown variant ${VARIANT}`);
const PHASE = opt('phase', 'consume');
if (PHASE !== 'consume' && PHASE !== 'produce') throw new Error(`unknown phase ${PHASE}`);
const MESSAGES = Number(opt('messages', '60000'));
const INTERVAL = Number(opt('interval', '1024'));
const TOP = Number(opt('top', '40'));

/** A node of V8's sampling heap profile (the fields used here). */
interface HeapNode {
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

const session = new Session();
session.connect();
/** The in-process inspector answers synchronously: the phase hooks run between two records. */
const post = (method: string, params?: object): unknown => {
  let result: unknown;
  let failure: string | undefined;
  session.post(method, params, (err, r) => {
    failure = err?.message;
    result = r;
  });
  if (failure !== undefined) throw new Error(`${method}: ${failure}`);
  return result;
};

const rig = await makeRig();
const samples = await sampleRecords(rig);
await runVariant(VARIANT, rig, samples, MESSAGES);
post('HeapProfiler.enable');
let profile: HeapNode | undefined;
await runVariant(VARIANT, rig, samples, MESSAGES, (phase, edge) => {
  if (phase !== PHASE) return;
  if (edge === 'start')
    post('HeapProfiler.startSampling', {
      samplingInterval: INTERVAL,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  else
    profile = (post('HeapProfiler.stopSampling') as { profile: { head: HeapNode } }).profile.head;
});
if (profile === undefined) throw new Error('the phase did not run');

const bySite = new Map<string, number>();
let total = 0;
const walk = (n: HeapNode): void => {
  const f = n.callFrame;
  const where = f.url.replace(/^.*?\/(node_modules|src|bench|test)\//, '$1/');
  const site = `${f.functionName || '(anonymous)'} ${where}${where === '' ? '' : `:${f.lineNumber + 1}`}`;
  bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
  total += n.selfSize;
  for (const c of n.children) walk(c);
};
walk(profile);
console.log(
  `${VARIANT} ${PHASE}: ${(total / MESSAGES).toFixed(0)} bytes allocated per record (sampled every ${INTERVAL} B, ${MESSAGES} records)`,
);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP))
  console.log(`${(bytes / MESSAGES).toFixed(0).padStart(8)}  ${site}`);
session.disconnect();
