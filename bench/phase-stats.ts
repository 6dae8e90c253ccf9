/**
 * Per-phase diagnostics for the broker benchmarks (issue 18, the Node 20 single-process finding in
 * docs/PERFORMANCE.md): where a measured phase's CPU went by thread, what the garbage collector did in
 * it, and the heap at its start. Thread CPU comes from Linux's `/proc/self/task/<tid>/schedstat`
 * (nanoseconds on the CPU), so it works on every Node version, unlike `process.threadCpuUsage`
 * (Node ≥ 23.9); elsewhere the thread figures are NaN. The main thread's tid is the process id.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';

/**
 * CPU time on the main thread and on all other threads of this process, ns (NaN off Linux). The other
 * threads are V8's helpers (parallel scavenges, concurrent marking and sweeping, concurrent
 * optimising compilation) and libuv's.
 */
export interface ThreadCpu {
  readonly mainNs: number;
  readonly otherNs: number;
}

/** This process's CPU time split into the main thread and the rest (V8 helpers, libuv). */
export function threadCpu(): ThreadCpu {
  let mainNs = 0;
  let otherNs = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      let ns: number;
      try {
        ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        continue; // the thread ended between the listing and the read
      }
      if (Number(tid) === process.pid) mainNs += ns;
      else otherNs += ns;
    }
  } catch {
    return { mainNs: Number.NaN, otherNs: Number.NaN };
  }
  return { mainNs, otherNs };
}

/** One garbage collection seen by the observer. */
interface GcEntry {
  readonly startMs: number;
  readonly durationMs: number;
  readonly kind: number;
}

const GC_KINDS: ReadonlyMap<number, string> = new Map([
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [perfConstants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/** Every collection since `startGcObserver`, in order (the observer's entries, main-thread pauses). */
const gcEntries: GcEntry[] = [];
let observer: PerformanceObserver | undefined;

/** Starts recording garbage collections (once per process). */
export function startGcObserver(): void {
  if (observer !== undefined) return;
  observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? -1;
      gcEntries.push({ startMs: e.startTime, durationMs: e.duration, kind });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
}

/** A snapshot at the start of a phase. */
export interface PhaseMark {
  readonly atMs: number;
  readonly cpu: ThreadCpu;
  readonly processCpuUs: number;
  readonly heap: v8.HeapInfo;
  readonly oldSpaceUsed: number;
}

/** The current thread CPU, process CPU and heap. */
export function phaseMark(): PhaseMark {
  const u = process.cpuUsage();
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return {
    atMs: performance.now(),
    cpu: threadCpu(),
    processCpuUs: u.user + u.system,
    heap: v8.getHeapStatistics(),
    oldSpaceUsed: old?.space_used_size ?? Number.NaN,
  };
}

/**
 * One line for the phase from `a` to `b` over `records` records: process CPU, main-thread and
 * other-thread CPU per record (µs), the collections that started in the window by kind (count and
 * main-thread pause ms), and the heap (used, old space used) at its start.
 */
export function formatPhase(label: string, a: PhaseMark, b: PhaseMark, records: number): string {
  const per = (ns: number): string => (ns / 1000 / records).toFixed(1);
  const byKind = new Map<string, { n: number; ms: number }>();
  // The observer is delivered asynchronously; a phase's entries may arrive after `b` was taken, so
  // the caller prints after the phase (entries are matched by start time).
  for (const e of gcEntries) {
    if (e.startMs < a.atMs || e.startMs > b.atMs) continue;
    const k = GC_KINDS.get(e.kind) ?? String(e.kind);
    const s = byKind.get(k) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += e.durationMs;
    byKind.set(k, s);
  }
  const gc = [...byKind].map(([k, s]) => `${k} ${s.n}×/${s.ms.toFixed(0)} ms`).join(', ');
  const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
  return (
    `[phase] ${label}: process ${((b.processCpuUs - a.processCpuUs) / records).toFixed(1)} µs/record` +
    ` (main ${per(b.cpu.mainNs - a.cpu.mainNs)}, other threads ${per(b.cpu.otherNs - a.cpu.otherNs)})` +
    `, ${((b.atMs - a.atMs) / 1000).toFixed(2)} s (${a.atMs.toFixed(0)}–${b.atMs.toFixed(0)} ms); gc: ${gc || 'none'}` +
    `; heap at start ${mb(a.heap.used_heap_size)} MB used (old space ${mb(a.oldSpaceUsed)}),` +
    ` ${mb(a.heap.total_heap_size)} MB total, ${a.heap.number_of_native_contexts} contexts` +
    `, external ${mb(a.heap.external_memory)} MB`
  );
}
