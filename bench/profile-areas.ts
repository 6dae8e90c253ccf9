/**
 * Self time of a V8 CPU profile (`.cpuprofile`, as written by `node --cpu-prof` or the inspector) by
 * area of the pipeline (docs/PERFORMANCE.md "Where the time goes"). Each sample is charged to the
 * first frame, from the leaf up, that belongs to an area: Node internals (buffer copies, socket
 * writes, microtask plumbing) and native code are charged to the library or module that called them,
 * so `Buffer.alloc` inside kafkajs' encoder counts as kafkajs and the libsodium call inside the
 * envelope counts as libsodium.
 *
 *   npx tsx bench/profile-areas.ts FILE.cpuprofile [--records N] [--top 25] [--from µs --to µs]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One node of a V8 CPU profile (the fields used here). */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[] | undefined;
}

/** A V8 CPU profile (the fields used here). */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
  readonly startTime?: number;
}

/** The areas, in the order they are printed. */
export const AREAS = [
  'kafkajs produce encoding',
  'CRC32C (kafkajs, JavaScript)',
  'kafkajs fetch decoding',
  'kafkajs other (network, scheduling)',
  'libsodium (crypto floor work)',
  'envelope (our code around libsodium)',
  'Avro (avsc + registry client)',
  'pipeline bookkeeping',
  'replay state and marks',
  'metrics (prom-client)',
  'events and tracing',
  'transport adapter',
  'bench driver',
  'garbage collector',
  'other (Node, unattributed)',
] as const;
export type Area = (typeof AREAS)[number];

const KAFKAJS_ENCODE =
  /kafkajs\/src\/(protocol\/(encoder|recordBatch\/(v0\/index|record\/v0\/index)|requests\/produce)|producer\/)/;
const KAFKAJS_DECODE =
  /kafkajs\/src\/(protocol\/(decoder|recordBatch\/(v0\/decoder|record\/v0\/decoder|header)|requests\/fetch|messageSet)|consumer\/batch)/;

/** The area of one frame, or undefined to look at its caller. */
function areaOf(url: string, fn: string): Area | undefined {
  if (url === '') {
    if (fn === '(garbage collector)') return 'garbage collector';
    return undefined; // native code: charged to its caller
  }
  if (url.includes('/node_modules/')) {
    if (url.includes('/kafkajs/')) {
      if (url.includes('/crc32C/')) return 'CRC32C (kafkajs, JavaScript)';
      if (KAFKAJS_ENCODE.test(url)) return 'kafkajs produce encoding';
      if (KAFKAJS_DECODE.test(url)) return 'kafkajs fetch decoding';
      return 'kafkajs other (network, scheduling)';
    }
    if (url.includes('/sodium-native/') || url.includes('/libsodium'))
      return 'libsodium (crypto floor work)';
    if (url.includes('/avsc/')) return 'Avro (avsc + registry client)';
    if (url.includes('/prom-client/')) return 'metrics (prom-client)';
    if (url.includes('/@opentelemetry/')) return 'events and tracing';
    return undefined;
  }
  if (url.startsWith('node:') || !url.includes('/')) return undefined;
  if (url.includes('/bench/')) return 'bench driver';
  if (/\/src\/(envelope|crypto)\//.test(url)) return 'envelope (our code around libsodium)';
  if (url.includes('/src/registry/')) return 'Avro (avsc + registry client)';
  if (
    /\/src\/pipeline\/(replay-state-store|state-topic-reader)\.ts|\/consumer\/partition-state\.ts/.test(
      url,
    )
  )
    return 'replay state and marks';
  if (url.includes('/src/pipeline/pipeline-metrics.ts')) return 'metrics (prom-client)';
  if (/\/src\/(observability\/tracing|pipeline\/(metadata-|event-outbox))/.test(url))
    return 'events and tracing';
  if (url.includes('/src/kafka/')) return 'transport adapter';
  if (url.includes('/src/')) return 'pipeline bookkeeping';
  return undefined;
}

/** Self time (µs) by area and by function; idle and program time apart. */
export interface AreaSummary {
  readonly byArea: ReadonlyMap<Area, number>;
  readonly byFunction: ReadonlyMap<string, number>;
  /** Sampled time spent working (not idle), µs. */
  readonly busyUs: number;
  readonly idleUs: number;
}

/**
 * `window`: only the samples taken between `fromUs` and `toUs` (the profiler's clock, the same as
 * `process.hrtime`), i.e. one measured phase of a longer run.
 */
export function summarise(
  profile: CpuProfile,
  window: { readonly fromUs: number; readonly toUs: number } = {
    fromUs: -Infinity,
    toUs: Infinity,
  },
): AreaSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  const deltas = profile.timeDeltas ?? [];
  let at = profile.startTime ?? 0;
  (profile.samples ?? []).forEach((s, i) => {
    at += deltas[i] ?? 0;
    if (at >= window.fromUs && at <= window.toUs)
      selfUs.set(s, (selfUs.get(s) ?? 0) + (deltas[i] ?? 0));
  });
  const byArea = new Map<Area, number>();
  const byFunction = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id)!.callFrame;
    if (leaf.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    let area: Area | undefined;
    for (
      let at: number | undefined = id;
      at !== undefined && area === undefined;
      at = parent.get(at)
    ) {
      const f = byId.get(at)!.callFrame;
      area = areaOf(f.url, f.functionName);
    }
    area ??= 'other (Node, unattributed)';
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const file = leaf.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/') || '(native)';
    const fn = `${leaf.functionName || '(anonymous)'} ${file}:${leaf.lineNumber + 1} [${area}]`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  return { byArea, byFunction, busyUs, idleUs };
}

/** A printable table: ms, share of busy time and (given the record count) µs per record. */
export function formatSummary(s: AreaSummary, records: number | undefined, top = 25): string {
  const perRecord = (us: number): string =>
    records === undefined ? '' : `  ${(us / records).toFixed(2).padStart(6)} µs/rec`;
  const line = (us: number, what: string): string =>
    `${((100 * us) / s.busyUs).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms${perRecord(us)}  ${what}`;
  const areas = AREAS.filter((a) => (s.byArea.get(a) ?? 0) > 0).map((a) =>
    line(s.byArea.get(a)!, a),
  );
  const fns = [...s.byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => line(us, k));
  return [
    `busy ${(s.busyUs / 1000).toFixed(0)} ms${perRecord(s.busyUs)}, idle ${(s.idleUs / 1000).toFixed(0)} ms`,
    '',
    'self time by area:',
    ...areas,
    '',
    'self time by function (leaf, with its area):',
    ...fns,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const file = argv.find((a) => !a.startsWith('--'));
  if (file === undefined) throw new Error('usage: profile-areas.ts FILE.cpuprofile [--records N]');
  const opt = (name: string): number | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const window = { fromUs: opt('from') ?? -Infinity, toUs: opt('to') ?? Infinity };
  console.log(formatSummary(summarise(profile, window), opt('records'), opt('top') ?? 25));
}
