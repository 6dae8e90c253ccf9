/**
 * The consumer side of bench/e2e.ts's throughput and latency runs, in its own process (as in a
 * deployment, where producer and consumer do not share one JavaScript thread; e2e.ts starts one per
 * variant, bench/consumer-worker-client.ts). Started by e2e.ts with an IPC channel;
 * loads bench-r1's identity (local KMS keyring), the signed directory and the endpoints from the
 * files e2e.ts wrote, then serves one command at a time:
 *   → { type: 'consume', id, variant, topic, total, warmupRecords, commitEveryRecords?, label? }
 *   ← { type: 'first', id }   the first record (the warm-up record) arrived: the group is ready
 *   ← { type: 'done', id, result }   `total` records arrived (or 60 s passed without progress)
 *   → { type: 'exit' }
 * Latency of a record = arrival time (after open + Avro decode) − its scheduled time (`createdAt`, µs
 * on the machine's clock, see nowUs); records numbered below `warmupRecords` are left out.
 */
import { join } from 'node:path';
// Before kafkajs: the transport replaces kafkajs modules kafkajs loads with its index (its grouping
// and request framing); importing kafkajs first would keep kafkajs' own.
import '../src/kafka/kafkajs-transport.js';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createCryptoProvider } from '../src/crypto/index.js';
import { createKafkajsTransport } from '../src/kafka/kafkajs-transport.js';
import { FileDirectorySource } from '../src/keys/directory/directory-document.js';
import { KeyDirectory } from '../src/keys/directory/key-directory.js';
import { loadIdentity, readIdentityFile } from '../src/keys/identity-file.js';
import { CountingKms } from '../src/keys/kms/counting-kms.js';
import { LocalKms } from '../src/keys/kms/local-kms.js';
import { PipelineMetrics } from '../src/pipeline/pipeline-metrics.js';
import { SchemaRegistryClient } from '../src/registry/schema-registry-client.js';
import { systemClock } from '../src/runtime/clock.js';
import { getEndpoints } from '../test/support/endpoints.js';
import {
  countingRegistryFetch,
  cpuUs,
  nowUs,
  orderNumber,
  setSettleCollects,
  settle,
  startVariantConsumer,
  type ConsumerContext,
  type VariantId,
} from './e2e-clients.js';
import { formatPhase, phaseMark, startGcObserver, type PhaseMark } from './phase-stats.js';

/** The first message e2e.ts sends. */
export interface WorkerInit {
  readonly type: 'init';
  readonly dir: string;
  readonly authorityPublicKey: string;
  readonly stateTopic: string;
  readonly deadLetterTopic: string;
  readonly runId: string;
  /** Whether settle() forces a full collection before each run (bench/e2e.ts `--settle`). */
  readonly settle: boolean;
  /** Whether each run's result carries a `[phase]` line (bench/e2e.ts `--phase-stats`). */
  readonly phaseStats?: boolean;
}

/** One latency run's consumer-side results. */
export interface WorkerResult {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly samples: number;
  /** Records/s from the first scheduled record's arrival to the last one's. */
  readonly deliveredRate: number;
  readonly complete: boolean;
  readonly cpuUsPerRecord: number;
  readonly kmsCalls: number;
  readonly registryCalls: number;
  readonly sessionsOpened: number;
  /** With `phaseStats`: the run's `[phase]` line (bench/phase-stats.ts), record 0 to the last. */
  readonly phaseLine?: string;
}

export type WorkerCommand =
  | {
      readonly type: 'consume';
      readonly id: number;
      readonly variant: VariantId;
      readonly topic: string;
      readonly total: number;
      readonly warmupRecords: number;
      /** The sealed consumer's commitEveryRecords (default the library's). */
      readonly commitEveryRecords?: number;
      /** The `[phase]` line's label (with the init's `phaseStats`). */
      readonly label?: string;
    }
  | { readonly type: 'exit' };

export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'first'; readonly id: number }
  | { readonly type: 'done'; readonly id: number; readonly result: WorkerResult }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

const send = (m: WorkerReply): void => {
  process.send?.(m);
};

const init = await new Promise<WorkerInit>((resolve) =>
  process.once('message', (m) => resolve(m as WorkerInit)),
);
setSettleCollects(init.settle);
if (init.phaseStats === true) startGcObserver();
const e = getEndpoints();
const crypto = await createCryptoProvider();
const kms = new CountingKms(
  await LocalKms.open({ path: join(init.dir, 'kek.json'), crypto, clock: systemClock }),
);
const identity = await loadIdentity(
  await readIdentityFile(join(init.dir, 'bench-r1.identity.json'), crypto),
  { crypto, kms },
);
const directory = await KeyDirectory.open({
  crypto,
  authorityPublicKey: new Uint8Array(Buffer.from(init.authorityPublicKey, 'base64')),
  source: new FileDirectorySource(join(init.dir, 'directory.json')),
  clock: systemClock,
});
const calls = countingRegistryFetch();
const ctx: ConsumerContext = {
  kafka: new kafkajs.Kafka({
    clientId: 'bench-worker',
    brokers: [...e.kafkaBrokers],
    logLevel: kafkajs.logLevel.NOTHING,
  }),
  transport: createKafkajsTransport({
    brokers: e.kafkaBrokers,
    clientId: 'bench-worker-sealed',
    logger: pino({ level: 'silent' }),
    nowMs: () => Date.now(),
  }),
  registry: new SchemaRegistryClient({
    url: e.schemaRegistryUrl,
    fetch: calls.fetch,
    requestTimeoutMs: 10_000,
  }),
  schemaRegistryUrl: e.schemaRegistryUrl,
  crypto,
  identity,
  directory,
  kms,
  stateTopic: init.stateTopic,
  deadLetterTopic: init.deadLetterTopic,
  runId: init.runId,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: Float64Array, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? Number.NaN;

async function consume(c: Extract<WorkerCommand, { type: 'consume' }>): Promise<WorkerResult> {
  settle();
  const promRegistry = new Registry();
  const metrics = new PipelineMetrics(promRegistry);
  const kms0 = kms.total();
  const reg0 = calls.total();
  const latencies = new Float64Array(c.total);
  let samples = 0;
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let markFirst: PhaseMark | undefined;
  let markLast: PhaseMark | undefined;
  let progressAt = performance.now();
  const handle = await startVariantConsumer(
    ctx,
    c.variant,
    c.topic,
    c.variant === 'plain' ? undefined : metrics,
    (o) => {
      const t = nowUs();
      received++;
      progressAt = performance.now();
      const k = orderNumber(o);
      if (k < 0) {
        send({ type: 'first', id: c.id });
        return;
      }
      if (k === 0) {
        firstAt = progressAt;
        cpuFirst = cpuUs();
        if (init.phaseStats === true) markFirst = phaseMark();
      }
      lastAt = progressAt;
      // Read once, at the last record (process.cpuUsage per record would cost µs per record).
      if (received === c.total) {
        cpuLast = cpuUs();
        if (init.phaseStats === true) markLast = phaseMark();
      }
      if (k >= c.warmupRecords) latencies[samples++] = (t - o.createdAt) / 1000;
    },
    c.commitEveryRecords === undefined ? {} : { commitEveryRecords: c.commitEveryRecords },
  );
  let complete = true;
  try {
    while (received < c.total) {
      if (performance.now() - progressAt > 60_000) {
        complete = false;
        break;
      }
      await sleep(5);
    }
  } finally {
    if (cpuLast === 0) cpuLast = cpuUs(); // incomplete: up to now
    await handle.close();
  }
  let phaseLine: string | undefined;
  if (markFirst !== undefined && markLast !== undefined) {
    await new Promise((r) => setImmediate(r)); // the observer's entries of the run
    phaseLine = formatPhase(c.label ?? c.variant, markFirst, markLast, Math.max(1, received - 2));
  }
  const sorted = latencies.subarray(0, samples).sort();
  const sessions =
    (await promRegistry.getSingleMetric('sealpost_sessions_opened_total')?.get())?.values.reduce(
      (a, x) => a + x.value,
      0,
    ) ?? 0;
  return {
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    samples,
    deliveredRate: (received - 2) / ((lastAt - firstAt) / 1000),
    complete,
    cpuUsPerRecord: (cpuLast - cpuFirst) / Math.max(1, received - 2),
    kmsCalls: kms.total() - kms0,
    registryCalls: calls.total() - reg0,
    sessionsOpened: sessions,
    ...(phaseLine === undefined ? {} : { phaseLine }),
  };
}

process.on('message', (m: WorkerCommand) => {
  if (m.type === 'exit') {
    identity.close();
    void kms.close().finally(() => process.exit(0));
    return;
  }
  consume(m).then(
    (result) => send({ type: 'done', id: m.id, result }),
    (err: unknown) =>
      send({ type: 'error', id: m.id, message: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
