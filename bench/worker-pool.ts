/**
 * The worker-thread harness of bench/worker-open.ts and bench/worker-seal.ts: a pool of worker
 * threads fed batches in order (at most `depth` in flight per worker, results handed on in batch
 * order), the per-thread CPU clock, and interleaved rounds reported as medians with CPU per record
 * split by thread. Needs Node ≥ 23.9 (process.threadCpuUsage).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';

interface ThreadCpuProcess {
  threadCpuUsage?: () => NodeJS.CpuUsage;
}

/** CPU time (user + system, µs) of the calling thread: process.threadCpuUsage (Node ≥ 23.9). */
export function threadCpuUs(): number {
  const f = (process as ThreadCpuProcess).threadCpuUsage;
  if (f === undefined) throw new Error('process.threadCpuUsage is missing: run under Node ≥ 23.9');
  const u = f.call(process);
  return u.user + u.system;
}

/** Main → worker control messages besides batches. */
export type ControlMessage = { readonly type: 'cpu' } | { readonly type: 'close' };
/** Worker → main replies besides results. */
export type ReplyMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'cpu'; readonly us: number }
  | { readonly type: 'closed' };

/** A batch's result: `id` is the batch's place in the run. */
export interface BatchResult {
  readonly type: 'result';
  readonly id: number;
}

interface PoolWorker {
  readonly worker: Worker;
  inflight: number;
  /** Replies to control messages, in order. */
  readonly waiting: ((m: ReplyMessage) => void)[];
}

export class WorkerPool<R extends BatchResult> {
  readonly #workers: PoolWorker[] = [];
  #onResult: (w: PoolWorker, m: R) => void = () => {};

  /**
   * Starts `size` workers of `file`; `init(i)` gives each its workerData and the buffers to move into
   * it (a transfer list: secret keys leave no copy behind in this thread).
   */
  static async start<R extends BatchResult>(
    file: URL,
    size: number,
    init: (i: number) => { workerData: unknown; transferList: ArrayBuffer[] },
  ): Promise<WorkerPool<R>> {
    const pool = new WorkerPool<R>();
    const ready: Promise<ReplyMessage>[] = [];
    for (let i = 0; i < size; i++) {
      const { workerData, transferList } = init(i);
      const worker = new Worker(file, { workerData, transferList });
      const pw: PoolWorker = { worker, inflight: 0, waiting: [] };
      worker.on('message', (m: R | ReplyMessage) => {
        if (m.type === 'result') pool.#onResult(pw, m);
        else pw.waiting.shift()?.(m);
      });
      worker.on('error', (err) => {
        console.error('worker failed', err);
        process.exit(1);
      });
      ready.push(new Promise((resolve) => pw.waiting.push(resolve)));
      pool.#workers.push(pw);
    }
    await Promise.all(ready);
    return pool;
  }

  get size(): number {
    return this.#workers.length;
  }

  #ask(pw: PoolWorker, type: ControlMessage['type']): Promise<ReplyMessage> {
    return new Promise((resolve) => {
      pw.waiting.push(resolve);
      pw.worker.postMessage({ type } satisfies ControlMessage);
    });
  }

  /** The workers' CPU time so far (µs, summed over the pool). */
  async cpuUs(): Promise<number> {
    const r = await Promise.all(this.#workers.map((w) => this.#ask(w, 'cpu')));
    return r.reduce((s, m) => s + (m.type === 'cpu' ? m.us : 0), 0);
  }

  /** Asks every worker to close (each zeroes its keys) and waits for it, then ends the threads. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => this.#ask(w, 'close')));
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }

  /**
   * Posts batches 0..count−1 (`make(id, worker index)` builds a message, its transfer list and what
   * to do once it is posted, i.e. serialised) to the workers, at most `depth` in flight each, and
   * hands the results to `take` in batch order.
   */
  run(
    count: number,
    depth: number,
    make: (
      id: number,
      worker: number,
    ) => { message: unknown; transfer: ArrayBuffer[]; posted?: () => void },
    take: (r: R) => void,
  ): Promise<void> {
    let next = 0;
    let expect = 0;
    const early = new Map<number, R>();
    const post = (pw: PoolWorker) => {
      while (pw.inflight < depth && next < count) {
        const { message, transfer, posted } = make(next++, this.#workers.indexOf(pw));
        pw.worker.postMessage(message, transfer);
        posted?.();
        pw.inflight++;
      }
    };
    return new Promise((resolve) => {
      if (count === 0) resolve();
      this.#onResult = (pw, m) => {
        pw.inflight--;
        post(pw);
        early.set(m.id, m);
        for (let r = early.get(expect); r !== undefined; r = early.get(expect)) {
          early.delete(expect++);
          take(r);
        }
        if (expect === count) resolve();
      };
      for (const pw of this.#workers) post(pw);
    });
  }
}

/** One variant of a bench: runs `records` records once per call. */
export interface Variant {
  readonly name: string;
  readonly run: () => Promise<void>;
  readonly pool?: { cpuUs(): Promise<number> };
}

interface Sample {
  readonly rate: number;
  readonly main: number;
  readonly workers: number;
  readonly process: number;
}

/**
 * Runs every variant once per round, in an order rotated each round (the first round a warm-up left
 * out), and prints, per variant, medians of records/s and of CPU µs per record: main thread
 * (process.threadCpuUsage), workers (their own threadCpuUsage, summed), process (process.cpuUsage:
 * every thread, GC helpers included), against `baseline` (the inline variant), and the cores each
 * kept busy (µs per record × records/s: a thread near 1.00 bounds the rate), and the same-round
 * ratios to the baseline (records/s, process CPU per record). `check()` after each
 * run throws if not every record was done.
 */
export async function runRounds(
  variants: readonly Variant[],
  rounds: number,
  records: number,
  check: () => void,
  baseline: string,
): Promise<void> {
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
  const loads: number[] = [];
  for (let round = 0; round < rounds; round++) {
    loads.push(os.loadavg()[0]!);
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + round) % variants.length]!;
      const w0 = v.pool === undefined ? 0 : await v.pool.cpuUs();
      const t0 = performance.now();
      const m0 = threadCpuUs();
      const p0 = process.cpuUsage();
      await v.run();
      const m1 = threadCpuUs();
      const pd = process.cpuUsage(p0);
      const t1 = performance.now();
      const w1 = v.pool === undefined ? 0 : await v.pool.cpuUs();
      check();
      if (round === 0) continue;
      samples.get(v.name)!.push({
        rate: records / ((t1 - t0) / 1e3),
        main: (m1 - m0) / records,
        workers: (w1 - w0) / records,
        process: (pd.user + pd.system) / records,
      });
    }
  }
  loads.push(os.loadavg()[0]!);
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const rows = variants.map((v) => {
    const xs = samples.get(v.name)!;
    const med = (k: keyof Sample) => median(xs.map((x) => x[k]));
    const mains = xs.map((x) => x.main);
    // Same-round ratios to the baseline: records/s and process CPU per record.
    const bs = samples.get(baseline) ?? [];
    const ratios = (k: keyof Sample) => {
      const rs = xs.map((x, i) => x[k] / bs[i]![k]);
      return rs.length === bs.length && rs.length > 0
        ? `${median(rs).toFixed(3)} (${Math.min(...rs).toFixed(3)}–${Math.max(...rs).toFixed(3)})`
        : '';
    };
    return {
      rateRatio: ratios('rate'),
      processRatio: ratios('process'),
      name: v.name,
      rate: med('rate'),
      main: med('main'),
      workers: med('workers'),
      process: med('process'),
      lo: Math.min(...mains),
      hi: Math.max(...mains),
    };
  });
  const base = rows.find((r) => r.name === baseline);
  const f = (x: number) => x.toFixed(2);
  console.log(`load average (1 min) per round: ${loads.map(f).join(' ')}`);
  console.log(
    '| variant | records/s | main µs/rec (min–max) | workers µs/rec | main + workers − inline main ' +
      '| process µs/rec | process − inline | cores busy: main / workers ' +
      '| per round ÷ inline: records/s, process CPU (median, min–max) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows)
    console.log(
      `| ${r.name} | ${Math.round(r.rate).toLocaleString('en')} | ${f(r.main)} (${f(r.lo)}–${f(r.hi)}) ` +
        `| ${f(r.workers)} | ${base === undefined ? '' : f(r.main + r.workers - base.main)} ` +
        `| ${f(r.process)} | ${base === undefined ? '' : f(r.process - base.process)} ` +
        `| ${f((r.main * r.rate) / 1e6)} / ${f((r.workers * r.rate) / 1e6)} ` +
        `| ${r.rateRatio}; ${r.processRatio} |`,
    );
}
