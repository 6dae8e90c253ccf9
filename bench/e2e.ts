/**
 * `npm run bench` — sealed vs plain Kafka through the real broker, in one run (issue 8).
 *
 * Variants, interleaved round by round (A B C D, A B C D, ...) so machine drift hits all alike:
 *   plain       kafkajs + Schema Registry Avro (SchemaRegistryClient.encode/decode): the baseline
 *   sealed-1    SealedProducer/SealedConsumer, session mode, 1 recipient
 *   sealed-1-pq the same in suite 2 (X-Wing slots, docs/SPEC.md §2.2; the topic's suite policy
 *               `require` on both sides)
 *   sealed-3    session mode, 3 recipients
 *   sealed-3-pq the same in suite 2
 *   per-message a fresh session per message (maxMessagesPerSession 1) with signEveryMessage
 * plus, throughput only, right after plain in each round: plain kafkajs with
 * @kafkajs/confluent-schema-registry (plain avsc decode, no bounds validation), the baseline most
 * kafkajs users would run; and the plain variant on kafkajs as it ships, in its own process
 * (bench/stock-kafkajs-worker.ts: this process runs kafkajs with sealpost's module replacements).
 * Same broker, one partition, replication 1, acks=all, idempotent producer with one request in flight,
 * no compression, the same 1 KiB Avro record (the schema and size of bench/envelope.ts), the same
 * send batches (500 records, 2 batches in flight), consumer fetch wait 1 s.
 *
 * Per round and variant:
 *   producer throughput  N records sent as fast as acknowledged (encode + seal + send), and the
 *                        bytes per record handed to the Kafka client (key + value + headers);
 *   consumer throughput  the same N records read by a fresh group (fetch + open + Avro decode +
 *                        commit; the sealed consumer also writes its replay state) in the consumer
 *                        worker, timed from the first record handed to the handler to the last
 *                        (--consume-in-process: in this process, as before 2026-12-07 23:30);
 *   latency              records scheduled at a fixed rate (half the baseline's maximum, measured in
 *                        the throughput rounds of this run), stamped with their scheduled time (so a
 *                        late sender counts: no coordinated omission), consumed in a separate process
 *                        (bench/consumer-worker.ts, as producer and consumer would be deployed);
 *                        latency = the worker's handler time − the scheduled time. The suite-2
 *                        variants skip the latency runs (time budget; --pq-latency runs them).
 * Medians over the rounds. Then, in child processes: bench/crypto-primitives.ts (AEAD, MAC, ...),
 * bench/seal-open.ts (seal and open per core of the same record, both providers, bytes/message),
 * bench/soak.ts (1,000,000 messages in process: RSS and heap at start and end), bench/envelope.ts
 * (seal/open per core, both providers, bytes/message; writes its own section). Writes
 * docs/PERFORMANCE.md (section "End to end (broker)" + a History row) and docs/perf-throughput.svg.
 *
 * Options: --rounds R (3), --messages N (20000), --latency-seconds S (4), --quick (1 round, 5000
 * messages, 2 s, skips the child benchmarks), --skip-envelope, --skip-crypto, --skip-seal-open, --skip-soak,
 * --soak-messages M (1000000), --envelope-runs K (3), --envelope-seconds S (0.5), --low-rate R (1000;
 * a second latency point every variant can sustain; 0 = none), --variants a,b,... (a subset of the
 * variants above, `plain` among them: it is the baseline), --pq-latency, --no-write, --phase-stats
 * (a diagnostic line per throughput phase, the consumer workers' included: main-thread and
 * helper-thread CPU, collections, heap), --worker-node-flags "<flags>" (Node/V8 flags for the
 * consumer workers, e.g. "--trace-gc"), --settle (a forced full collection before every measured
 * phase, as runs before issue 18's fourth round did; off by default, see bench/e2e-clients.ts
 * setSettleCollects).
 * The child benchmarks run in the order crypto, soak, envelope; the envelope one is skipped (and
 * says so) when less than ~5 minutes of the 14-minute budget remain.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Before kafkajs: the transport replaces kafkajs modules kafkajs loads with its index (its grouping
// and request framing); importing kafkajs first would keep kafkajs' own.
import '../src/kafka/kafkajs-transport.js';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createKafkajsTransport } from '../src/kafka/kafkajs-transport.js';
import type { Transport } from '../src/kafka/transport.js';
import { writeDirectoryDocument } from '../src/keys/directory/directory-document.js';
import { loadIdentity, writeIdentityFile } from '../src/keys/identity-file.js';
import type { LoadedIdentity } from '../src/keys/identity.js';
import { CountingKms } from '../src/keys/kms/counting-kms.js';
import { PipelineMetrics } from '../src/pipeline/pipeline-metrics.js';
import { SchemaRegistryClient } from '../src/registry/schema-registry-client.js';
import { getEndpoints } from '../test/support/endpoints.js';
import { makePipelineWorld } from '../test/support/pipeline-world.js';
import type { WorkerCommand, WorkerInit, WorkerResult } from './consumer-worker.js';
import { startConsumerWorker, type ConsumerWorker } from './consumer-worker-client.js';
import type { SealOpenRow } from './seal-open.js';
import { startStockKafkajsWorker } from './stock-kafkajs-client.js';
import {
  countingRegistryFetch,
  FETCH_WAIT_MS,
  isSuite2,
  nowUs,
  order,
  ORDER_SCHEMA,
  setSettleCollects,
  settle,
  startVariantConsumer,
  startVariantProducer,
  type ConsumerContext,
  type ConsumerHandle,
  type ProducerContext,
  type ProducerHandle,
  type Order,
  type VariantId,
} from './e2e-clients.js';
import { formatPhase, phaseMark, startGcObserver, type PhaseMark } from './phase-stats.js';
import { renderBarChart } from './svg-chart.js';
import {
  measureConsume,
  measureProduce,
  type PhaseProbe,
  type PhaseShape,
  type Throughput,
} from './throughput-phases.js';

const { Kafka, logLevel } = kafkajs;

// ---------------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const num = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
};
const QUICK = flag('quick');
const ROUNDS = num('rounds', QUICK ? 1 : 3);
const MESSAGES = num('messages', QUICK ? 5000 : 20_000);
const LATENCY_SECONDS = num('latency-seconds', QUICK ? 2 : 4);
const LATENCY_WARMUP_S = Math.min(0.5, LATENCY_SECONDS / 4);
/** A second latency point, low enough for every variant (0 = skip). */
const LOW_RATE = ((): number => {
  const i = argv.indexOf('--low-rate');
  const v = i >= 0 ? Number(argv[i + 1]) : QUICK ? 0 : 1000;
  if (!Number.isFinite(v) || v < 0) throw new Error('--low-rate needs a number ≥ 0');
  return v;
})();
const SOAK_MESSAGES = num('soak-messages', 1_000_000);
const ENVELOPE_RUNS = num('envelope-runs', 3);
const ENVELOPE_SECONDS = num('envelope-seconds', 0.5);
/** The whole run should end within 15 minutes; the envelope benchmark (last) is skipped if it would not. */
const BUDGET_SECONDS = 14 * 60;
const ENVELOPE_ESTIMATE_SECONDS = 300;
const SKIP_ENVELOPE = QUICK || flag('skip-envelope');
const SKIP_CRYPTO = QUICK || flag('skip-crypto');
const SKIP_SOAK = QUICK || flag('skip-soak');
const SKIP_SEAL_OPEN = QUICK || flag('skip-seal-open');
const WRITE = !flag('no-write');
const PQ_LATENCY = flag('pq-latency');
/**
 * --phase-stats: after every throughput phase, one `[phase]` line (bench/phase-stats.ts): main-thread
 * and other-thread CPU, the collections in the phase, the heap at its start, and the phase's window
 * on the CPU profiler's clock (for a run under `node --cpu-prof`). A diagnostic; no table changes.
 */
const PHASE_STATS = flag('phase-stats');
/**
 * --settle: a forced full collection before every measured phase, in both processes (how the runs up
 * to issue 18's fourth round measured). Off by default: on Node 20 it starts a burst of mark-compacts
 * in the phase that follows (bench/e2e-clients.ts setSettleCollects), which a running consumer or
 * producer does not have.
 */
const SETTLE = flag('settle');
/**
 * --worker-node-flags "<flags>": Node/V8 flags for the consumer worker process (space-separated, e.g.
 * "--trace-gc --single-threaded-gc"), to look at its collections or try a deployment's flags.
 */
const WORKER_NODE_FLAGS = ((): readonly string[] => {
  const i = argv.indexOf('--worker-node-flags');
  if (i < 0) return [];
  const v = argv[i + 1];
  if (v === undefined) throw new Error('--worker-node-flags needs a value');
  return v.split(' ').filter((f) => f !== '');
})();
/** --consume-in-process: the throughput phases' consumers in this process (before 2026-12-07 23:30). */
const CONSUME_IN_PROCESS = flag('consume-in-process');
setSettleCollects(SETTLE);
/** How the written section describes the phases' start (with or without --settle). */
const settleNote = SETTLE
  ? ', after a full garbage collection (in both processes) so no\nphase pays for the one before'
  : ' (no forced garbage collection before a phase: on Node 20 one starts\na burst of mark-compacts in the phase after it; --settle forces one)';
if (PHASE_STATS) startGcObserver();
/** The profiler's clock (µs, monotonic), for --phase-stats windows. */
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);
/** Prints a --phase-stats line for the phase from `a` to `b` (after the GC entries arrived). */
async function reportPhase(
  label: string,
  a: PhaseMark & { readonly mono: number },
  b: PhaseMark & { readonly mono: number },
  records: number,
): Promise<void> {
  await new Promise((r) => setImmediate(r));
  console.log(`${formatPhase(label, a, b, records)}; window ${a.mono} ${b.mono} ${records}`);
}
const stamp = (): PhaseMark & { readonly mono: number } => ({ ...phaseMark(), mono: monoUs() });
/** The --phase-stats probe of one phase (none without the flag). */
function phaseProbe(label: string): PhaseProbe | undefined {
  if (!PHASE_STATS) return undefined;
  let a: ReturnType<typeof stamp> | undefined;
  let b: ReturnType<typeof stamp> | undefined;
  return {
    start: () => {
      a = stamp();
    },
    end: () => {
      b = stamp();
    },
    report: (records) =>
      a !== undefined && b !== undefined ? reportPhase(label, a, b, records) : Promise.resolve(),
  };
}
const ALL_VARIANTS = [
  'plain',
  'sealed-1',
  'sealed-1-pq',
  'sealed-3',
  'sealed-3-pq',
  'per-message',
] as const satisfies readonly VariantId[];
/** --variants: the variants to run (default all), in the order above. */
const SELECTED = ((): ReadonlySet<VariantId> => {
  const i = argv.indexOf('--variants');
  if (i < 0) return new Set(ALL_VARIANTS);
  const ids = (argv[i + 1] ?? '').split(',').map((x) => x.trim());
  const unknown = ids.filter((x) => !(ALL_VARIANTS as readonly string[]).includes(x));
  if (unknown.length > 0 || !ids.includes('plain'))
    throw new Error(`--variants needs plain and any of ${ALL_VARIANTS.join(', ')}`);
  return new Set(ids as VariantId[]);
})();
const BATCH = 500;
const IN_FLIGHT = 2;

const started = performance.now();
const loadAtStart = os.loadavg();
const rssAtStart = process.memoryUsage().rss;
const log = (msg: string): void =>
  console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

// ---------------------------------------------------------------------------------------------------
// Setup

const endpoints = getEndpoints();
const quiet = pino({ level: 'silent' });
const runId = randomBytes(3).toString('hex');
const topicName = (what: string): string => `bench-${runId}-${what}`;

const world = await makePipelineWorld([
  { name: 'bench-producer', send: ['bench-*'], receive: [] },
  // The recipients publish X-Wing keys too (the suite-2 variants); suite 1 does not use them.
  { name: 'bench-r1', send: ['bench-*'], receive: ['bench-*'], xwing: true },
  { name: 'bench-r2', send: [], receive: ['bench-*'], xwing: true },
  { name: 'bench-r3', send: [], receive: ['bench-*'], xwing: true },
]);
const kms = new CountingKms(world.kms);
const registryCalls = countingRegistryFetch();
const registry = new SchemaRegistryClient({
  url: endpoints.schemaRegistryUrl,
  fetch: registryCalls.fetch,
  requestTimeoutMs: 10_000,
});
const identities = new Map<string, LoadedIdentity>();
for (const name of ['bench-producer', 'bench-r1'])
  identities.set(name, await loadIdentity(world.files.get(name)!, { crypto: world.crypto, kms }));
const kmsAfterIdentityLoad = kms.total();
const directory = await world.directory();

const kafka = new Kafka({
  clientId: 'bench-plain',
  brokers: [...endpoints.kafkaBrokers],
  logLevel: logLevel.NOTHING,
});
const transport: Transport = createKafkajsTransport({
  brokers: endpoints.kafkaBrokers,
  clientId: 'bench-sealed',
  logger: quiet,
  nowMs: () => Date.now(),
});
const admin = kafka.admin();
await admin.connect();
const createdTopics: string[] = [];
/**
 * `max.message.bytes` of the bench topics: a send of BATCH uncompressed suite-2 records is 1.3 MB
 * (1 recipient) to 2.6 MB (3 recipients). The producer splits such a send into requests under its
 * `maxRequestBytes` (900 KiB by default, docs/API.md "Large sends"), so the limit is no longer needed
 * for delivery; it is kept so the runs stay comparable with the History rows. Every variant's topics
 * get the same limit.
 */
const MAX_MESSAGE_BYTES = 8 * 2 ** 20;
async function createTopic(topic: string, compacted = false): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: 1,
        replicationFactor: 1,
        configEntries: [
          { name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) },
          ...(compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
        ],
      },
    ],
  });
  createdTopics.push(topic);
}
const STATE_TOPIC = topicName('state');
const DLQ_TOPIC = topicName('dlq');
await createTopic(STATE_TOPIC, true);
await createTopic(DLQ_TOPIC);

// ---------------------------------------------------------------------------------------------------
// Variants

interface Variant {
  readonly id: VariantId;
  readonly label: string;
  readonly metrics: PipelineMetrics;
  readonly promRegistry: Registry;
  /** Whether the variant runs in the latency phases (the suite-2 ones only with --pq-latency). */
  readonly latency: boolean;
}
const LABELS: Record<(typeof ALL_VARIANTS)[number], string> = {
  plain: 'plain kafkajs + registry Avro',
  'sealed-1': 'sealed, session, 1 recipient',
  'sealed-1-pq': 'X-Wing, session, 1 recipient',
  'sealed-3': 'sealed, session, 3 recipients',
  'sealed-3-pq': 'X-Wing, session, 3 recipients',
  'per-message': 'sealed, key per message, signed',
};
const VARIANTS: Variant[] = ALL_VARIANTS.filter((id) => SELECTED.has(id)).map((id) => {
  const promRegistry = new Registry();
  return {
    id,
    label: LABELS[id],
    promRegistry,
    metrics: new PipelineMetrics(promRegistry),
    latency: PQ_LATENCY || !isSuite2(id),
  };
});
const LATENCY_VARIANTS = VARIANTS.filter((v) => v.latency);

const producerContext: ProducerContext = {
  kafka,
  transport,
  registry,
  crypto: world.crypto,
  identity: identities.get('bench-producer')!,
  directory,
  schemaRegistryUrl: endpoints.schemaRegistryUrl,
};
const startProducer = (v: Variant, topic: string): Promise<ProducerHandle> =>
  startVariantProducer(producerContext, v.id, topic, v.metrics);

const consumerContext: ConsumerContext = {
  kafka,
  transport,
  registry,
  crypto: world.crypto,
  identity: identities.get('bench-r1')!,
  directory,
  kms,
  stateTopic: STATE_TOPIC,
  deadLetterTopic: DLQ_TOPIC,
  runId,
  schemaRegistryUrl: endpoints.schemaRegistryUrl,
};
const startConsumer = (
  v: Variant,
  topic: string,
  onOrder: (o: Order) => void,
  overrides: { readonly commitEveryRecords?: number } = {},
): Promise<ConsumerHandle> =>
  startVariantConsumer(
    consumerContext,
    v.id,
    topic,
    v.id === 'plain' || v.id === 'plain-csr' ? undefined : v.metrics,
    onOrder,
    overrides,
  );

// ---------------------------------------------------------------------------------------------------
// Measurements

const fmt = (n: number): string =>
  Number.isNaN(n) ? 'n/a' : Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (Number.isNaN(n) ? 'n/a' : n.toFixed(2));
const ratio = (a: number, b: number): string =>
  Number.isNaN(a) || Number.isNaN(b) ? 'n/a' : (a / b).toFixed(2);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) {
      log(`timed out waiting for ${what}`);
      return false;
    }
    await sleep(5);
  }
  return true;
}

const SHAPE: PhaseShape = { messages: MESSAGES, batch: BATCH, inFlight: IN_FLIGHT };

/** N records as fast as they are acknowledged, BATCH per send, IN_FLIGHT sends outstanding. */
const produceThroughput = (v: Variant, topic: string): Promise<Throughput> =>
  measureProduce(() => startProducer(v, topic), SHAPE, phaseProbe(`${v.id} produce`));

/**
 * Reads the MESSAGES + 1 records of `topic` with a fresh group in this process; records/s from the
 * first to the last (--consume-in-process; by default the consumer worker reads them,
 * workerConsumeThroughput).
 */
const inProcessConsumeThroughput = (
  v: Variant,
  topic: string,
  overrides: { readonly commitEveryRecords?: number } = {},
): Promise<Throughput> =>
  measureConsume(
    (onOrder) => startConsumer(v, topic, onOrder, overrides),
    MESSAGES,
    waitUntil,
    v.id,
    phaseProbe(
      `${v.id} consume${overrides.commitEveryRecords === undefined ? '' : ' (lazy commit)'}`,
    ),
  );

await writeIdentityFile(join(world.dir, 'bench-r1.identity.json'), world.files.get('bench-r1')!, {
  overwrite: true,
});
await writeDirectoryDocument(join(world.dir, 'directory.json'), world.document());
const workerInit: WorkerInit = {
  type: 'init',
  dir: world.dir,
  authorityPublicKey: world.document().authority.publicKey,
  stateTopic: STATE_TOPIC,
  deadLetterTopic: DLQ_TOPIC,
  runId,
  settle: SETTLE,
  phaseStats: PHASE_STATS,
};
/**
 * The consumer workers (bench/consumer-worker.ts): one process per variant, started at its first
 * consume and kept warm across rounds — a consumer in its own process, as deployed, that pays for
 * its own garbage only. In one shared worker each phase paid for the collections of the one before:
 * the plain baseline, after the per-message phase (a session per record), read 4–6 µs per record more
 * on its helper threads, and after the suite-2 3-recipient phase 16.4 µs against 8.8 for plain-csr
 * (docs/PERFORMANCE.md "Issue 18, sixth round").
 */
const workers = new Map<string, Promise<ConsumerWorker>>();
const workerFor = (v: Variant): Promise<ConsumerWorker> => {
  let w = workers.get(v.id);
  if (w === undefined) {
    w = startConsumerWorker(`consumer worker (${v.id})`, WORKER_NODE_FLAGS, workerInit);
    workers.set(v.id, w);
  }
  return w;
};
let commandId = 0;

/** The plain baseline on kafkajs as it ships (bench/stock-kafkajs-client.ts). */
const stockWorker = startStockKafkajsWorker();

/**
 * Records scheduled at `rate`/s for LATENCY_SECONDS from this process, consumed by the worker;
 * latency from the scheduled time to the worker's handler.
 */
async function latencyRun(v: Variant, topic: string, rate: number): Promise<WorkerResult> {
  const id = ++commandId;
  const total = Math.round(rate * LATENCY_SECONDS);
  const w = await workerFor(v);
  const first = w.reply('first', id, 120_000);
  const done = w.reply('done', id, 600_000);
  // Unhandled until awaited below: keep a failure from crashing the run before then.
  done.catch(() => undefined);
  const command: WorkerCommand = {
    type: 'consume',
    id,
    variant: v.id,
    topic,
    total: total + 1,
    warmupRecords: Math.floor(rate * LATENCY_WARMUP_S),
  };
  settle();
  w.send(command);
  const p = await startProducer(v, topic);
  try {
    // The consumer is assigned and ready once the warm-up record comes back.
    await p.send([order(-1, nowUs())]);
    await first;
    const startUs = nowUs() + 2000;
    // Like a Kafka producer's accumulator: records due while sends are outstanding wait in a queue
    // and go out together (at most BATCH per send, IN_FLIGHT sends outstanding), so the request rate
    // never limits the record rate.
    const queue: Order[] = [];
    const inflight = new Set<Promise<void>>();
    let failure: Error | undefined;
    let scheduled = 0;
    while (scheduled < total || queue.length > 0) {
      const due = Math.min(total, Math.floor(((nowUs() - startUs) / 1e6) * rate));
      for (; scheduled < due; scheduled++)
        queue.push(order(scheduled, Math.round(startUs + (scheduled * 1e6) / rate)));
      while (queue.length > 0 && inflight.size < IN_FLIGHT) {
        const sent: Promise<void> = p
          .send(queue.splice(0, BATCH))
          .catch((err: unknown) => {
            failure ??= err instanceof Error ? err : new Error(String(err));
          })
          .finally(() => inflight.delete(sent));
        inflight.add(sent);
      }
      if (failure !== undefined) throw failure;
      await Promise.race([sleep(1), ...inflight]);
    }
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
  } finally {
    await p.close();
  }
  return (await done).result;
}

// ---------------------------------------------------------------------------------------------------
// Run

interface Row {
  produce: number[];
  consume: number[];
  produceCpu: number[];
  consumeCpu: number[];
  /** Bytes per record on the wire, per producer throughput run. */
  wireBytes: number[];
  latency: Record<'half' | 'low', LatencyRow>;
  kms: number;
  registry: number;
  /** Consumer-side sessions opened in the worker. */
  workerSessions: number;
}
interface LatencyRow {
  p50: number[];
  p99: number[];
  delivered: number[];
  consumeCpu: number[];
  incomplete: number;
}
const latencyRow = (): LatencyRow => ({
  p50: [],
  p99: [],
  delivered: [],
  consumeCpu: [],
  incomplete: 0,
});
const rows = new Map<VariantId, Row>(
  VARIANTS.map((v) => [
    v.id,
    {
      produce: [],
      consume: [],
      produceCpu: [],
      consumeCpu: [],
      wireBytes: [],
      latency: { half: latencyRow(), low: latencyRow() },
      kms: 0,
      registry: 0,
      workerSessions: 0,
    },
  ]),
);
const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Runs `fn`, adding the KMS and registry calls it made to the variant's row. */
async function counted<T>(v: Variant, fn: () => Promise<T>): Promise<T> {
  const k0 = kms.total();
  const r0 = registryCalls.total();
  try {
    return await fn();
  } finally {
    rows.get(v.id)!.kms += kms.total() - k0;
    rows.get(v.id)!.registry += registryCalls.total() - r0;
  }
}

log(
  `run ${runId}: ${ROUNDS} rounds × ${VARIANTS.length} variants, ${MESSAGES.toLocaleString('en-US')} records per throughput run, load ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
);
const recordBytes = (
  await registry.encode(
    await registry.register(topicName('probe') + '-value', ORDER_SCHEMA),
    order(0, nowUs()),
  )
).length;
let recordsThroughBroker = 0;
const lazyCommit = { perSecond: [] as number[], cpu: [] as number[] };
/**
 * Reads the MESSAGES + 1 records of `topic` in the consumer worker (bench/consumer-worker.ts) with a
 * fresh group: records/s and the worker's CPU per record from record 0's arrival to the last one's.
 * In its own process, as a consumer is deployed, the phase does not pay for the garbage of the
 * producer phase this process ran just before it (docs/PERFORMANCE.md "Issue 18, fifth round").
 */
async function workerConsumeThroughput(
  v: Variant,
  topic: string,
  overrides: { readonly commitEveryRecords?: number } = {},
): Promise<Throughput> {
  const id = ++commandId;
  const w = await workerFor(v);
  const done = w.reply('done', id, 600_000);
  w.send({
    type: 'consume',
    id,
    variant: v.id,
    topic,
    total: MESSAGES + 1,
    warmupRecords: MESSAGES + 1, // no latency samples
    label: `${v.id} consume (worker)${overrides.commitEveryRecords === undefined ? '' : ' (lazy commit)'}`,
    ...overrides,
  } satisfies WorkerCommand);
  const r = (await done).result;
  if (r.phaseLine !== undefined) console.log(r.phaseLine);
  const row = rows.get(v.id);
  if (row !== undefined) {
    row.kms += r.kmsCalls;
    row.registry += r.registryCalls;
    row.workerSessions += r.sessionsOpened;
  }
  if (!r.complete) return { perSecond: Number.NaN, cpuUsPerRecord: Number.NaN };
  return { perSecond: r.deliveredRate, cpuUsPerRecord: r.cpuUsPerRecord };
}
const consumeThroughput = CONSUME_IN_PROCESS ? inProcessConsumeThroughput : workerConsumeThroughput;

/** Diagnostic baseline, run after `plain` in every round (not one of the tables' variants). */
const confluentPackage: Variant = {
  id: 'plain-csr',
  label: 'plain kafkajs + @kafkajs/confluent-schema-registry',
  promRegistry: new Registry(),
  metrics: new PipelineMetrics(new Registry()),
  latency: false,
};
const csrRuns = {
  produce: [] as number[],
  consume: [] as number[],
  produceCpu: [] as number[],
  consumeCpu: [] as number[],
};
/** The stock-kafkajs baseline (its own process), run after `plain` in every round. */
const stockRuns = {
  produce: [] as number[],
  consume: [] as number[],
  produceCpu: [] as number[],
  consumeCpu: [] as number[],
};
for (let r = 0; r < ROUNDS; r++) {
  for (const v of VARIANTS) {
    const topic = topicName(`tp-${v.id}-${r}`);
    await createTopic(topic);
    const row = rows.get(v.id)!;
    const produce = await counted(v, () => produceThroughput(v, topic));
    const consume = await counted(v, () => consumeThroughput(v, topic));
    recordsThroughBroker += MESSAGES + 1;
    row.produce.push(produce.perSecond);
    row.consume.push(consume.perSecond);
    row.produceCpu.push(produce.cpuUsPerRecord);
    row.consumeCpu.push(consume.cpuUsPerRecord);
    row.wireBytes.push(produce.wireBytesPerRecord ?? Number.NaN);
    if (v.id === 'plain') {
      const csrTopic = topicName(`tp-plain-csr-${r}`);
      await createTopic(csrTopic);
      const p = await produceThroughput(confluentPackage, csrTopic);
      const c = await consumeThroughput(confluentPackage, csrTopic);
      recordsThroughBroker += MESSAGES + 1;
      csrRuns.produce.push(p.perSecond);
      csrRuns.consume.push(c.perSecond);
      csrRuns.produceCpu.push(p.cpuUsPerRecord);
      csrRuns.consumeCpu.push(c.cpuUsPerRecord);
      log(
        `round ${r + 1} plain with @kafkajs/confluent-schema-registry: produce ${fmt(p.perSecond)}/s (${p.cpuUsPerRecord.toFixed(1)} µs CPU/record)  consume ${fmt(c.perSecond)}/s (${c.cpuUsPerRecord.toFixed(1)} µs CPU/record)`,
      );
      const stockTopic = topicName(`tp-plain-stock-${r}`);
      await createTopic(stockTopic);
      const stock = await stockWorker.run(
        stockTopic,
        { messages: MESSAGES, batch: BATCH, inFlight: IN_FLIGHT },
        SETTLE,
      );
      recordsThroughBroker += MESSAGES + 1;
      stockRuns.produce.push(stock.produce.perSecond);
      stockRuns.consume.push(stock.consume.perSecond);
      stockRuns.produceCpu.push(stock.produce.cpuUsPerRecord);
      stockRuns.consumeCpu.push(stock.consume.cpuUsPerRecord);
      log(
        `round ${r + 1} plain on stock kafkajs (own process): produce ${fmt(stock.produce.perSecond)}/s (${stock.produce.cpuUsPerRecord.toFixed(1)} µs CPU/record)  consume ${fmt(stock.consume.perSecond)}/s (${stock.consume.cpuUsPerRecord.toFixed(1)} µs CPU/record)`,
      );
    }
    if (v.id === 'sealed-1') {
      // Diagnostic: the same records, replay state + commit once per fetched batch instead of every 500.
      const lazy = await counted(v, () =>
        consumeThroughput(v, topic, { commitEveryRecords: 1_000_000_000 }),
      );
      lazyCommit.perSecond.push(lazy.perSecond);
      lazyCommit.cpu.push(lazy.cpuUsPerRecord);
      log(
        `round ${r + 1} sealed-1 consumer committing once per fetched batch: ${fmt(lazy.perSecond)}/s (${lazy.cpuUsPerRecord.toFixed(1)} µs CPU/record)`,
      );
    }
    log(
      `round ${r + 1} ${v.id.padEnd(11)} produce ${fmt(produce.perSecond).padStart(7)}/s (${produce.cpuUsPerRecord.toFixed(1)} µs CPU/record)  consume ${fmt(consume.perSecond).padStart(7)}/s (${consume.cpuUsPerRecord.toFixed(1)} µs CPU/record)  ${fmt(produce.wireBytesPerRecord ?? Number.NaN)} B/record`,
    );
  }
}
const plainRow = rows.get('plain')!;
const baselineMax = Math.min(median(plainRow.produce), median(plainRow.consume));
const RATE = Math.max(100, Math.round(baselineMax / 2));
/** Latency rounds at `rate` (all variants interleaved); results into the rows' `at` lists. */
async function latencyPhase(rate: number, at: 'half' | 'low'): Promise<void> {
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of LATENCY_VARIANTS) {
      const topic = topicName(`lat-${at}-${v.id}-${r}`);
      await createTopic(topic);
      const row = rows.get(v.id)!;
      const l = await counted(v, () => latencyRun(v, topic, rate));
      recordsThroughBroker += Math.round(rate * LATENCY_SECONDS) + 1;
      row.kms += l.kmsCalls;
      row.registry += l.registryCalls;
      row.workerSessions += l.sessionsOpened;
      const into = row.latency[at];
      into.consumeCpu.push(l.cpuUsPerRecord);
      into.p50.push(l.p50Ms);
      into.p99.push(l.p99Ms);
      into.delivered.push(l.deliveredRate);
      if (!l.complete) into.incomplete++;
      log(
        `round ${r + 1} ${v.id.padEnd(11)} at ${fmt(rate)}/s: p50 ${l.p50Ms.toFixed(2)} ms  p99 ${l.p99Ms.toFixed(2)} ms  delivered ${fmt(l.deliveredRate)}/s (${l.samples} samples${l.complete ? '' : ', INCOMPLETE'})`,
      );
    }
  }
}
log(`latency at ${fmt(RATE)} records/s (half the baseline's max ${fmt(baselineMax)}/s)`);
await latencyPhase(RATE, 'half');
if (LOW_RATE > 0 && LOW_RATE < RATE) {
  log(`latency at ${fmt(LOW_RATE)} records/s (a rate every variant can sustain)`);
  await latencyPhase(LOW_RATE, 'low');
}
for (const w of workers.values()) await (await w).exit();
await stockWorker.exit();
const brokerSeconds = (performance.now() - started) / 1000;
const rssAfterBroker = process.memoryUsage().rss;
const loadAfterBroker = os.loadavg();

// Sessions opened (producer and consumer side) per variant, from the pipeline metrics.
async function sessionsOpened(v: Variant, side: string): Promise<number> {
  const m = v.promRegistry.getSingleMetric('sealpost_sessions_opened_total');
  if (m === undefined) return 0;
  const data = await m.get();
  return data.values.filter((x) => x.labels.side === side).reduce((a, x) => a + x.value, 0);
}
const sessions = new Map<VariantId, { producer: number; consumer: number }>();
for (const v of VARIANTS) {
  sessions.set(v.id, {
    producer: await sessionsOpened(v, 'producer'),
    consumer: (await sessionsOpened(v, 'consumer')) + rows.get(v.id)!.workerSessions,
  });
}

// Cleanup of the broker side.
await admin
  .deleteTopics({ topics: createdTopics })
  .catch((err: unknown) => log(`could not delete the bench topics: ${String(err)}`));
await admin.disconnect();
const kmsCounts = kms.counts();
for (const id of identities.values()) id.close();
await world.cleanup();

// ---------------------------------------------------------------------------------------------------
// In-process measurements (child processes, one at a time)

function runChild(
  script: string,
  args: readonly string[],
  nodeFlags: readonly string[] = [],
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...nodeFlags, '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

let cryptoTables: string | undefined;
if (!SKIP_CRYPTO) {
  log('bench/crypto-primitives.ts');
  const r = await runChild('./crypto-primitives.ts', []);
  if (r.code === 0) {
    cryptoTables = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('|') || l.startsWith('JS heap') || l.trim() === '')
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }
}
interface SoakResult {
  messages: number;
  sessions: number;
  seconds: number;
  sealOpenPerSecond: number;
  rssStartMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  heapStartMiB: number;
  heapEndMiB: number;
  samples: { messages: number; rssMiB: number; heapUsedMiB: number }[];
}
let sealOpen: SealOpenRow[] | undefined;
if (!SKIP_SEAL_OPEN) {
  log('bench/seal-open.ts (seal and open per core, both providers)');
  const r = await runChild('./seal-open.ts', [], ['--max-semi-space-size=64']);
  const line = r.stdout.split('\n').find((l) => l.startsWith('SEAL_OPEN_RESULT '));
  if (r.code === 0 && line !== undefined)
    sealOpen = JSON.parse(line.slice('SEAL_OPEN_RESULT '.length)) as SealOpenRow[];
}
let soak: SoakResult | undefined;
if (!SKIP_SOAK) {
  log(`bench/soak.ts (${SOAK_MESSAGES.toLocaleString('en-US')} messages in process)`);
  const r = await runChild('./soak.ts', ['--messages', String(SOAK_MESSAGES)]);
  const line = r.stdout.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
  if (r.code === 0 && line !== undefined)
    soak = JSON.parse(line.slice('SOAK_RESULT '.length)) as SoakResult;
}

// The envelope benchmark last: it is the longest, and skipped when it would not fit the budget.
let envelopeOk: boolean | undefined;
/** bench/envelope.ts's session-mode crypto floor (sodium-native, 1 recipient), µs per message. */
const envelopeFloorUs: { seal?: number; open?: number } = {};
/** The same for one-message signed sessions: the libsodium work of one record, public-key bound. */
const envelopeSignedFloorUs: { seal?: number; open?: number } = {};
let envelopeSkipped = false;
if (!SKIP_ENVELOPE) {
  const elapsed = (performance.now() - started) / 1000;
  if (elapsed > BUDGET_SECONDS - ENVELOPE_ESTIMATE_SECONDS) {
    envelopeSkipped = true;
    log(
      `bench/envelope.ts skipped: ${Math.round(elapsed)} s elapsed, it needs about ${ENVELOPE_ESTIMATE_SECONDS} s of the ${BUDGET_SECONDS} s budget (run \`npm run bench:envelope\`)`,
    );
  } else {
    log('bench/envelope.ts (writes its own section of docs/PERFORMANCE.md)');
    const r = await runChild('./envelope.ts', [
      '--runs',
      String(ENVELOPE_RUNS),
      '--seconds',
      String(ENVELOPE_SECONDS),
      ...(WRITE ? [] : ['--no-write']),
    ]);
    envelopeOk = r.code === 0;
    // Its crypto floor (the libsodium work alone, measured interleaved with the envelope runs, per
    // CPU-second) is the steadiest on a loaded machine: the targets use it when it ran.
    for (const op of ['seal', 'open'] as const) {
      const m = new RegExp(
        `sodium-native · 1 rcpt · session · ${op}\\s+[\\d,]+ ops/s \\(floor ([\\d,]+)`,
      ).exec(r.stdout);
      if (m !== null) envelopeFloorUs[op] = 1e6 / Number(m[1]!.replace(/,/g, ''));
      const pk = new RegExp(
        `sodium-native · 1 rcpt · one-message signed · ${op}\\s+[\\d,]+ ops/s \\(floor ([\\d,]+)`,
      ).exec(r.stdout);
      if (pk !== null) envelopeSignedFloorUs[op] = 1e6 / Number(pk[1]!.replace(/,/g, ''));
    }
  }
}

// Avro encode/decode through the registry client (schema cached), the baseline's per-record CPU work.
const codecRegistry = new SchemaRegistryClient({
  url: endpoints.schemaRegistryUrl,
  fetch: globalThis.fetch,
});
const codecId = await codecRegistry.register(topicName('probe') + '-value', ORDER_SCHEMA);
const sampleOrder = order(0, nowUs());
const encoded = await codecRegistry.encode(codecId, sampleOrder);
async function perSecond(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2000; i++) await fn();
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 300) {
      for (let k = 0; k < 100; k++) await fn();
      n += 100;
    }
    runs.push(n / ((performance.now() - t0) / 1000));
  }
  return median(runs);
}
const avroEncodePerSec = await perSecond(() => codecRegistry.encode(codecId, sampleOrder));
const avroDecodePerSec = await perSecond(() => codecRegistry.decode(encoded));

// ---------------------------------------------------------------------------------------------------
// Report

/** `| label | native | wasm | ratio |` rows of the crypto-primitives output, by label. */
function cryptoOps(): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of (cryptoTables ?? '').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const a = Number(cells[2]?.replace(/,/g, ''));
    const b = Number(cells[3]?.replace(/,/g, ''));
    if (cells[1] !== undefined && cells.length === 6 && a > 0 && b > 0 && !out.has(cells[1]))
      out.set(cells[1], [a, b]);
  }
  return out;
}
/**
 * The session-mode crypto floor in µs (provider 0 = sodium-native, 1 = libsodium-wrappers): what the
 * primitives alone cost per message (AEAD + BLAKE2b-256 of the ciphertext + one MAC per recipient),
 * from this run's bench/crypto-primitives.ts; NaN when it was not run.
 */
function cryptoFloorUs(p: 0 | 1, op: 'seal' | 'open'): number {
  const prim = cryptoOps();
  const aead = prim.get(
    op === 'seal'
      ? 'AEAD XChaCha20-Poly1305 encrypt 1 KiB'
      : 'AEAD XChaCha20-Poly1305 decrypt 1 KiB',
  )?.[p];
  const h = prim.get('BLAKE2b-256 incremental, reused state (1 KiB)')?.[p];
  const mac = prim.get('BLAKE2b-128 keyed MAC (66 B)')?.[p];
  return aead === undefined || h === undefined || mac === undefined
    ? Number.NaN
    : 1e6 / aead + 1e6 / h + 1e6 / mac;
}

/**
 * The public-key work of one per-message signed record in µs (sodium-native, 1 recipient): to seal,
 * one sealed box and two Ed25519 signatures (header and message); to open, one box open and two
 * verifications; NaN when bench/crypto-primitives.ts was not run.
 */
function publicKeyUs(op: 'seal' | 'open'): number {
  const prim = cryptoOps();
  const box = prim.get(op === 'seal' ? 'box seal (80 B)' : 'box seal open (80 B)')?.[0];
  const sig = prim.get(op === 'seal' ? 'Ed25519 sign (300 B)' : 'Ed25519 verify (300 B)')?.[0];
  return box === undefined || sig === undefined ? Number.NaN : 1e6 / box + 2e6 / sig;
}

/** Per-message costs in µs: our seal/open beside the primitives they are made of. */
function costTable(): string {
  if (sealOpen === undefined)
    return 'Seal/open per core: not run in this run (bench/seal-open.ts).';
  const prim = cryptoOps();
  const us = (opsPerSec: number | undefined): string =>
    opsPerSec === undefined || !(opsPerSec > 0) ? 'n/a' : (1e6 / opsPerSec).toFixed(2);
  const so = (provider: string, mode: string, op: string): SealOpenRow | undefined =>
    sealOpen.find((r) => r.provider === provider && r.mode === mode && r.op === op);
  const providers = ['sodium-native', 'libsodium-wrappers'] as const;
  const lines = [
    '| Per message (1 core) | sodium-native µs | libsodium-wrappers µs | bytes allocated / msg (native / wasm) |',
    '|---|---:|---:|---:|',
    `| Avro encode (registry client, framing) | ${us(avroEncodePerSec)} | ${us(avroEncodePerSec)} | — |`,
    `| Avro decode (registry client, validated) | ${us(avroDecodePerSec)} | ${us(avroDecodePerSec)} | — |`,
  ];
  for (const label of [
    'AEAD XChaCha20-Poly1305 encrypt 1 KiB',
    'AEAD XChaCha20-Poly1305 decrypt 1 KiB',
    'BLAKE2b-256 incremental, reused state (1 KiB)',
    'BLAKE2b-128 keyed MAC (66 B)',
    'Ed25519 sign (300 B)',
    'Ed25519 verify (300 B)',
    'box seal (80 B)',
    'box seal open (80 B)',
  ]) {
    const v = prim.get(label);
    lines.push(`| primitive: ${label} | ${us(v?.[0])} | ${us(v?.[1])} | — |`);
  }
  for (const mode of ['session, 1 recipient', 'session, 3 recipients', 'key per message, signed']) {
    for (const op of ['seal', 'open']) {
      const cells = providers.map((p) => so(p, mode, op));
      const bytes = cells
        .map((c) =>
          c === undefined ? 'n/a' : `${c.bytesExact ? '' : '~'}${fmt(c.bytesPerMessage)}`,
        )
        .join(' / ');
      lines.push(
        `| **${op}**, ${mode} (avsc ${op === 'seal' ? 'encode' : 'decode'} included) | ${cells.map((c) => us(c?.opsPerSecond)).join(' | ')} | ${bytes} |`,
      );
    }
  }
  const floor = cryptoFloorUs;
  const floorLine = providers
    .map((p, i) => {
      const seal = so(p, 'session, 1 recipient', 'seal');
      const open = so(p, 'session, 1 recipient', 'open');
      const fs = floor(i as 0 | 1, 'seal');
      const fo = floor(i as 0 | 1, 'open');
      return `${p}: seal ${us(seal?.opsPerSecond)} µs against a primitive floor of ${fs.toFixed(2)} µs (AEAD + BLAKE2b-256 + one MAC), open ${us(open?.opsPerSecond)} µs against ${fo.toFixed(2)} µs`;
    })
    .join('; ');
  return `${lines.join('\n')}\n\nSession mode, 1 recipient — ${floorLine}. The rest is Avro (about ${us(avroEncodePerSec)} / ${us(avroDecodePerSec)} µs with the registry client's validation; the avsc-only figures inside seal/open are lower), framing, padding, copies and the replay check.`;
}

const totalSeconds = (performance.now() - started) / 1000;
const loadAtEnd = os.loadavg();
const installed = (m: string): string => {
  try {
    return (
      JSON.parse(
        readFileSync(new URL(`../node_modules/${m}/package.json`, import.meta.url), 'utf8'),
      ) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
};
function kafkaVersion(): string {
  try {
    const jar = readdirSync(new URL('../.stack/kafka/libs/', import.meta.url)).find((f) =>
      /^kafka_2\.13-[0-9.]+\.jar$/.test(f),
    );
    return jar === undefined ? 'unknown' : jar.replace(/^kafka_2\.13-/, '').replace(/\.jar$/, '');
  } catch {
    return 'unknown (endpoints given by env)';
  }
}
function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], {
        encoding: 'utf8',
      }).trim() !== '';
    return dirty ? `${head} + uncommitted src changes` : head;
  } catch {
    return 'unknown';
  }
}

interface Medians {
  produce: number;
  consume: number;
  produceCpu: number;
  consumeCpu: number;
  wireBytes: number;
  p50: number;
  p99: number;
  delivered: number;
  latencyCpu: number;
  lowP50: number;
  lowP99: number;
  lowDelivered: number;
}
const med = new Map<VariantId, Medians>(
  VARIANTS.map((v) => {
    const r = rows.get(v.id)!;
    const h = r.latency.half;
    const l = r.latency.low;
    return [
      v.id,
      {
        produce: median(r.produce),
        consume: median(r.consume),
        produceCpu: median(r.produceCpu),
        consumeCpu: median(r.consumeCpu),
        wireBytes: median(r.wireBytes),
        p50: median(h.p50),
        p99: median(h.p99),
        delivered: median(h.delivered),
        latencyCpu: median(h.consumeCpu),
        lowP50: median(l.p50),
        lowP99: median(l.p99),
        lowDelivered: median(l.delivered),
      },
    ] as const;
  }),
);
/** A variant's medians; all NaN when --variants left it out. */
const medOf = (id: VariantId): Medians =>
  med.get(id) ?? {
    produce: Number.NaN,
    consume: Number.NaN,
    produceCpu: Number.NaN,
    consumeCpu: Number.NaN,
    wireBytes: Number.NaN,
    p50: Number.NaN,
    p99: Number.NaN,
    delivered: Number.NaN,
    latencyCpu: Number.NaN,
    lowP50: Number.NaN,
    lowP99: Number.NaN,
    lowDelivered: Number.NaN,
  };
const base = medOf('plain');
const s1 = medOf('sealed-1');
const addedP99 = s1.p99 - base.p99;
const addedLowP99 = s1.lowP99 - base.lowP99;
const prodRatio = s1.produce / base.produce;
const consRatio = s1.consume / base.consume;
const pm = medOf('per-message');
const addedCpu = {
  produce: s1.produceCpu - base.produceCpu,
  consume: s1.consumeCpu - base.consumeCpu,
};
// The envelope benchmark's floor when it ran (interleaved with its own runs), else the primitives'.
const floorFrom =
  envelopeFloorUs.seal !== undefined && envelopeFloorUs.open !== undefined
    ? 'bench/envelope.ts, measured interleaved with the envelope runs'
    : 'bench/crypto-primitives.ts';
const floorUs = {
  seal: envelopeFloorUs.seal ?? cryptoFloorUs(0, 'seal'),
  open: envelopeFloorUs.open ?? cryptoFloorUs(0, 'open'),
};
const identitiesLoaded = identities.size;
// Calls during the measured runs: this process's (after its identity loads) plus the worker's per run.
const kmsInRun = VARIANTS.reduce((a, v) => a + rows.get(v.id)!.kms, 0);
const latencyPhases = LOW_RATE > 0 && LOW_RATE < RATE ? 2 : 1;
const sealedVariants = VARIANTS.filter((v) => v.id !== 'plain');
const sealedLatencyVariants = sealedVariants.filter((v) => v.latency).length;
const sealedMessages =
  ROUNDS *
  (sealedVariants.length * (MESSAGES + 1) +
    sealedLatencyVariants *
      (Math.round(RATE * LATENCY_SECONDS) +
        1 +
        (latencyPhases === 2 ? Math.round(LOW_RATE * LATENCY_SECONDS) + 1 : 0)));
// Throughput consumers (the sealed-1 diagnostic included) and latency consumers.
const consumerStarts =
  ROUNDS *
  (sealedVariants.length +
    sealedLatencyVariants * latencyPhases +
    (SELECTED.has('sealed-1') ? 1 : 0));
/** Sealed-as-suite-2 against sealed-as-suite-1 (1 and 3 recipients), when both ran. */
const suite2Lines = (
  [
    ['sealed-1', 'sealed-1-pq', '1 recipient'],
    ['sealed-3', 'sealed-3-pq', '3 recipients'],
  ] as const
)
  .filter(([c, q]) => SELECTED.has(c) && SELECTED.has(q))
  .map(([c, q, what]) => {
    const a = medOf(c);
    const b = medOf(q);
    return `- ${what}: producer ${fmt(b.produce)} against ${fmt(a.produce)} msg/s (×${ratio(b.produce, a.produce)}), ${b.produceCpu.toFixed(1)} against ${a.produceCpu.toFixed(1)} µs CPU/record; consumer ${fmt(b.consume)} against ${fmt(a.consume)} msg/s (×${ratio(b.consume, a.consume)}), ${b.consumeCpu.toFixed(1)} against ${a.consumeCpu.toFixed(1)} µs CPU/record; ${fmt(b.wireBytes)} against ${fmt(a.wireBytes)} bytes per record on the wire (×${ratio(b.wireBytes, a.wireBytes)})`;
  });
const verdict = (ok: boolean): string => (ok ? '**met**' : '**missed**');

const cmd = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const mem = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`;

const table = [
  '| Variant | Producer msg/s | ratio | Consumer msg/s | ratio | bytes / record on the wire | p50 ms | p99 ms | added p99 ms | delivered at the fixed rate msg/s | KMS calls | registry calls | sessions opened (producer / consumer) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...VARIANTS.map((v) => {
    const m = medOf(v.id);
    const r = rows.get(v.id)!;
    const s = sessions.get(v.id)!;
    const sealed = v.id !== 'plain';
    const inc = r.latency.half.incomplete;
    return `| ${v.label} | ${fmt(m.produce)} | ${ratio(m.produce, base.produce)} | ${fmt(m.consume)} | ${ratio(m.consume, base.consume)} | ${fmt(m.wireBytes)} | ${v.latency ? ms(m.p50) : 'not run'} | ${ms(m.p99)} | ${sealed ? ms(m.p99 - base.p99) : '—'} | ${fmt(m.delivered)}${inc > 0 ? ` (${inc} run(s) did not drain in 60 s)` : ''} | ${sealed ? r.kms : '—'} | ${r.registry} | ${sealed ? `${s.producer} / ${s.consumer}` : '—'} |`;
  }),
].join('\n');
const cpuTable = [
  '| Variant | Producer µs CPU / record | ratio | Consumer µs CPU / record | ratio | Consumer µs CPU / record at the fixed rate (worker) |',
  '|---|---:|---:|---:|---:|---:|',
  ...VARIANTS.map((v) => {
    const m = medOf(v.id);
    return `| ${v.label} | ${m.produceCpu.toFixed(1)} | ${ratio(m.produceCpu, base.produceCpu)} | ${m.consumeCpu.toFixed(1)} | ${ratio(m.consumeCpu, base.consumeCpu)} | ${v.latency ? m.latencyCpu.toFixed(1) : 'not run'} |`;
  }),
].join('\n');
const perRound = VARIANTS.map((v) => {
  const r = rows.get(v.id)!;
  return `| ${v.label} | ${r.produce.map(fmt).join(', ')} | ${r.consume.map(fmt).join(', ')} | ${r.latency.half.p99.map(ms).join(', ')} | ${r.latency.low.p99.map(ms).join(', ')} |`;
}).join('\n');
const lowTable = [
  `| Variant | p50 ms | p99 ms | added p99 ms | delivered msg/s |`,
  '|---|---:|---:|---:|---:|',
  ...VARIANTS.map((v) => {
    const m = medOf(v.id);
    const inc = rows.get(v.id)!.latency.low.incomplete;
    return `| ${v.label} | ${ms(m.lowP50)} | ${ms(m.lowP99)} | ${v.id === 'plain' ? '—' : ms(m.lowP99 - base.lowP99)} | ${fmt(m.lowDelivered)}${inc > 0 ? ` (${inc} run(s) did not drain in 60 s)` : ''} |`;
  }),
].join('\n');

const svg = renderBarChart({
  title: 'sealpost vs plain Kafka: throughput through the broker',
  subtitle: `1 KiB Avro, 1 partition, acks=all; median of ${ROUNDS} interleaved rounds, ${date}, ${os.cpus().length} cores, load ${loadAtStart[0]!.toFixed(1)} at start`,
  unit: 'messages per second (ratio to plain)',
  series: [
    { name: 'producer', color: '#4C78A8' },
    { name: 'consumer (open + decode)', color: '#F58518' },
  ],
  groups: VARIANTS.map((v) => {
    const m = medOf(v.id);
    return {
      label: v.label,
      values: [m.produce, m.consume],
      notes: [`×${ratio(m.produce, base.produce)}`, `×${ratio(m.consume, base.consume)}`],
    };
  }),
});

const soakText =
  soak === undefined
    ? 'Not run in this run (`npm run bench:soak` runs it alone).'
    : `${soak.messages.toLocaleString('en-US')} messages sealed and opened in process (session mode, 1 recipient, sodium-native, sessions rotated every 10,000 messages: ${soak.sessions} sessions) in ${soak.seconds} s (${fmt(soak.sealOpenPerSecond)} seal+open/s on one core). RSS ${soak.rssStartMiB} MiB at start (before any message), ${soak.samples[1]?.rssMiB ?? 'n/a'} MiB after 10 %, ${soak.rssEndMiB} MiB at the end (max ${soak.rssMaxMiB}); JS heap after a full GC ${soak.heapStartMiB} → ${soak.heapEndMiB} MiB. Samples (messages: RSS MiB / heap MiB): ${soak.samples.map((s) => `${s.messages / 1000}k: ${s.rssMiB}/${s.heapUsedMiB}`).join(', ')}.`;

const section = `## End to end (broker)

Latest run: ${date}, commit ${gitCommit()}. Command: \`${cmd}\` (bench/e2e.ts, ${Math.round(totalSeconds)} s in all,
${Math.round(brokerSeconds)} s of it through the broker).

Machine: ${os.cpus().length} cores (\`nproc\`), ${mem}, ${cpu}; shared with other work — load average
${loadAtStart.map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min) at the start, ${loadAfterBroker.map((l) => l.toFixed(2)).join(' / ')} after the broker part,
${loadAtEnd.map((l) => l.toFixed(2)).join(' / ')} at the end. The broker, the registry and the benchmark share the same ${os.cpus().length} cores.
Versions: Node ${process.version}, Kafka ${kafkaVersion()} (KRaft, one broker), kafkajs ${installed('kafkajs')},
sodium-native ${installed('sodium-native')}, libsodium-wrappers ${installed('libsodium-wrappers')}, avsc ${installed('avsc')}.

Setup: one partition, replication 1, acks=all, idempotent producer with one request in flight, no
compression, batches of ${BATCH} records with ${IN_FLIGHT} in flight, consumer fetch wait ${FETCH_WAIT_MS} ms,
a ${recordBytes}-byte Avro record in Confluent framing (the schema of bench/envelope.ts; the timestamps and ids make the size differ by a few bytes).
Variants run interleaved (${VARIANTS.map((v) => v.id).join(', ')}; ${ROUNDS} rounds), each round on
fresh topics and fresh consumer groups${settleNote}; figures are medians over the rounds. Producer: ${MESSAGES.toLocaleString('en-US')} records
as fast as acknowledged (Avro encode + seal + send). Consumer: the same records read by a new group${
  CONSUME_IN_PROCESS
    ? ' in this process'
    : ` in the consumer
worker (bench/consumer-worker.ts: its own process, as consumers are deployed, so the phase does not pay
for the garbage of the producer phase before it; CPU is the worker's; every variant has a worker of
its own, kept across rounds, so no phase pays for collecting another variant's garbage)`
},
timed from the first record handed to the handler to the last (fetch + open + Avro decode + offset
commits; the sealed consumer also writes its sealed replay state before each commit). Latency:
records scheduled at ${fmt(RATE)} msg/s (half the baseline's maximum ${fmt(baselineMax)} msg/s = min(producer,
consumer) plain medians of this run) for ${LATENCY_SECONDS} s, the first ${LATENCY_WARMUP_S} s discarded, produced by this process
and consumed by a separate one (bench/consumer-worker.ts); latency is from the scheduled send time
to the consumer's handler (encode, seal, produce, fetch, open, decode), so a sender that falls
behind counts (no coordinated omission). The
per-message variant runs its consumer with admission control lifted (its default, 200 header opens
per second per partition, would otherwise cap it at 200 msg/s: that is the intended protection, but
it is not what is measured here). The X-Wing variants seal suite 2 (docs/SPEC.md §2.2; the topic's
suite policy is \`require\` on both sides) to the same recipients${PQ_LATENCY ? '' : ', throughput only: they skip the latency runs to keep the whole run within its time budget (`--pq-latency` adds them)'}.
Bytes per record on the wire: key + value + headers as handed to the Kafka client (no compression in
this run; before Kafka's own record and batch framing), median over the producer runs. Every topic
has \`max.message.bytes\` ${fmt(MAX_MESSAGE_BYTES)}; the producers keep their default \`maxRequestBytes\` (900 KiB), so a
send of ${BATCH} uncompressed suite-2 records goes out as 2–3 produce requests, one after another.

${table}

![sealed vs plain throughput](perf-throughput.svg)
${
  suite2Lines.length === 0
    ? ''
    : `
Suite 2 (X-Wing) against suite 1, same run, medians:

${suite2Lines.join('\n')}
`
}
Diagnostic (same run, same topics): the sealed 1-recipient consumer with \`commitEveryRecords\` set
beyond the batch size — the replay-state write and the offset commit once per fetched batch instead of
every 500 records (default) — read ${fmt(median(lazyCommit.perSecond))} msg/s (×${ratio(median(lazyCommit.perSecond), base.consume)} of plain; per round
${lazyCommit.perSecond.map(fmt).join(', ')}) at ${median(lazyCommit.cpu).toFixed(1)} µs CPU/record.

The baseline most kafkajs users would run — plain kafkajs with \`@kafkajs/confluent-schema-registry\`
(its decode is plain avsc, without the bounds validation our registry client applies first; run right
after \`plain\` in every round, on its own topics) — produced ${fmt(median(csrRuns.produce))} msg/s
(${median(csrRuns.produceCpu).toFixed(1)} µs CPU/record) and consumed ${fmt(median(csrRuns.consume))} msg/s
(${median(csrRuns.consumeCpu).toFixed(1)} µs CPU/record); per round ${csrRuns.produce.map(fmt).join(', ')} /
${csrRuns.consume.map(fmt).join(', ')}. Against it, sealed 1-recipient is ×${ratio(s1.produce, median(csrRuns.produce))}
(producer) and ×${ratio(s1.consume, median(csrRuns.consume))} (consumer).

The \`plain\` row runs in this process, where sealpost's kafkajs transport has replaced some of
kafkajs' modules for every kafkajs client (native CRC32C, linear grouping and produce-request
encoding: docs/TRANSPORTS.md "Load sealpost before kafkajs"), so it is what an application using
sealpost gets on its unsealed topics. Plain kafkajs **as it ships** — the same plain client in its own
process that loads kafkajs first and never loads sealpost's transport (bench/stock-kafkajs-worker.ts;
it checks that no kafkajs module was replaced), run right after \`plain\` in every round — produced
${fmt(median(stockRuns.produce))} msg/s (${median(stockRuns.produceCpu).toFixed(1)} µs CPU/record) and consumed ${fmt(median(stockRuns.consume))} msg/s
(${median(stockRuns.consumeCpu).toFixed(1)} µs CPU/record); per round ${stockRuns.produce.map(fmt).join(', ')} /
${stockRuns.consume.map(fmt).join(', ')}. Against it — what an application moving its plain kafkajs
topics to sealed ones keeps — sealed 1-recipient is ×${ratio(s1.produce, median(stockRuns.produce))} (producer) and ×${ratio(s1.consume, median(stockRuns.consume))} (consumer).

${
  latencyPhases === 2
    ? `Latency at a lower fixed rate, ${fmt(LOW_RATE)} msg/s (same method, interleaved rounds after the ones above), where
no variant should be short of CPU — the overhead of sealing itself rather than of queueing:

${lowTable}

`
    : ''
}Client CPU per record (the producing or consuming process only, user + system, over the same phases: on a loaded shared
machine this is steadier than wall-clock throughput; the broker's and registry's CPU are not in it):

${cpuTable}

Per round (in run order): 

| Variant | producer msg/s | consumer msg/s | p99 ms at ${fmt(RATE)}/s | p99 ms at ${fmt(LOW_RATE)}/s |
|---|---|---|---|---|
${perRound}

### Targets (session mode, 1 recipient)

Issue 18's targets; the machine was shared with other work during the run (load above).

- producer sealed/plain ≥ 0.75 (Kroxylicious 0.12 Record Encryption measured 0.77 on this machine): ${prodRatio.toFixed(2)} — ${verdict(prodRatio >= 0.75)}
- consumer sealed/plain ≥ 0.75 (Kroxylicious: 0.41): ${consRatio.toFixed(2)} — ${verdict(consRatio >= 0.75)}
- the same two ratios against plain kafkajs as it ships (the stock-kafkajs baseline above; the
  Kroxylicious figures were measured against stock kafkajs): producer ${ratio(s1.produce, median(stockRuns.produce))}, consumer ${ratio(s1.consume, median(stockRuns.consume))}
- what the ratios can reach while the client is CPU-bound: a sealed record costs at least plain's
  client CPU plus the libsodium floor, so sealed/plain is at most plain ÷ (plain + floor) —
  producer ${(base.produceCpu / (base.produceCpu + floorUs.seal)).toFixed(2)} (${base.produceCpu.toFixed(1)} µs plain, ${floorUs.seal.toFixed(2)} µs floor), consumer ${(base.consumeCpu / (base.consumeCpu + floorUs.open)).toFixed(2)} (${base.consumeCpu.toFixed(1)} µs, ${floorUs.open.toFixed(2)} µs) with nothing
  of ours added; with the CPU target met (2× the floor added) ${(base.produceCpu / (base.produceCpu + 2 * floorUs.seal)).toFixed(2)} and ${(base.consumeCpu / (base.consumeCpu + 2 * floorUs.open)).toFixed(2)}. The faster kafkajs gets, the
  lower this ceiling (a proxy such as Kroxylicious does its cryptography outside the client process)
- added client CPU per record ≤ 2× the crypto floor (session mode, 1 recipient, sodium-native, the
  libsodium work alone per message, from ${floorFrom}): producer
  +${addedCpu.produce.toFixed(1)} µs against 2 × ${floorUs.seal.toFixed(2)} µs (${(addedCpu.produce / floorUs.seal).toFixed(1)}× the floor) — ${verdict(addedCpu.produce <= 2 * floorUs.seal)};
  consumer +${addedCpu.consume.toFixed(1)} µs against 2 × ${floorUs.open.toFixed(2)} µs (${(addedCpu.consume / floorUs.open).toFixed(1)}× the floor) — ${verdict(addedCpu.consume <= 2 * floorUs.open)}
- added p99 at half the baseline's max rate ≤ 10 ms: ${ms(addedP99)} ms — ${verdict(addedP99 <= 10)}${latencyPhases === 2 ? ` (at ${fmt(LOW_RATE)} msg/s: ${ms(addedLowP99)} ms)` : ''}.
  What bounds it is queueing for CPU: at ${fmt(RATE)} msg/s the sealed producer needs
  ${((RATE * s1.produceCpu) / 1e6).toFixed(2)} of a core (${s1.produceCpu.toFixed(1)} µs per record) and its consumer process
  ${((RATE * s1.latencyCpu) / 1e6).toFixed(2)} (${s1.latencyCpu.toFixed(1)} µs), ${((RATE * (s1.produceCpu + s1.latencyCpu)) / 1e6).toFixed(2)} cores together against plain's
  ${((RATE * (base.produceCpu + base.latencyCpu)) / 1e6).toFixed(2)}, beside the broker and the registry on the same ${os.cpus().length} cores (and, in a shared run, other work):
  a process near a whole core queues records behind each other, so p99 measures the queue, not the sealing
- per-message signed (a fresh session per record, signed): ${fmt(pm.produce)} / ${fmt(pm.consume)} msg/s at
  ${pm.produceCpu.toFixed(1)} / ${pm.consumeCpu.toFixed(1)} µs CPU per record (producer / consumer), of which the
  libsodium work alone is ${(envelopeSignedFloorUs.seal ?? publicKeyUs('seal')).toFixed(1)} µs to seal (one sealed box, two Ed25519 signatures, the
  symmetric part) and ${(envelopeSignedFloorUs.open ?? publicKeyUs('open')).toFixed(1)} µs to open (one box open, two verifications, the symmetric
  part; ${envelopeSignedFloorUs.seal === undefined ? 'bench/crypto-primitives.ts, public-key part only' : 'bench/envelope.ts, interleaved'}) — bound by public-key work, not a target
- KMS calls (CountingKms around the local KMS): ${identitiesLoaded} identities loaded in this process with ${kmsAfterIdentityLoad} calls,
  one more in each consumer worker; during the measured runs ${kmsInRun} calls (this process in all:
  ${Object.entries(kmsCounts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(
      ', ',
    )}) for ${consumerStarts} sealed consumer starts, ${fmt(sealedMessages)} sealed records and
  ${fmt(VARIANTS.filter((v) => v.id !== 'plain').reduce((a, v) => a + sessions.get(v.id)!.producer, 0))} sealing sessions: one \`wrap\` per new consumer group (its replay-state key), none per
  message or per session — ${verdict(kmsInRun <= consumerStarts)} for messages and sessions. Per service start the cost is one unwrap
  per identity plus one call per (identity, consumer group) for the replay-state key, which is one
  call beyond "identities + rotations" for each new group (no rotations happened in the run).
- memory: see below.

Registry calls (HTTP requests by route, this process; the worker's are in the table): ${[...registryCalls.byRoute()].map(([r, n]) => `${r} ${n}`).join('; ')}.
They are start-up calls (subject registration, schema by id, one per producer/consumer start); none per message.

### In process (no broker), per core

Avro through the registry client (schema cached; encode = avsc + Confluent framing, decode = limits
validation + avsc): encode ${fmt(avroEncodePerSec)}/s, decode ${fmt(avroDecodePerSec)}/s for this ${recordBytes}-byte record.
Seal and open of the same record (bench/seal-open.ts, run by this run; ops per CPU-second, median of 5 interleaved runs of 200 ms,
bytes allocated per message over a GC-free loop, "~" = approximate), beside the primitives they are
made of (bench/crypto-primitives.ts):

${costTable()}

The fuller envelope benchmark (more runs, allocation split) is in
"Envelope (in process)" (bench/envelope.ts${envelopeSkipped ? ', skipped by this run to stay within the time budget' : envelopeOk === undefined ? ', not re-run by this run' : envelopeOk ? `, re-run by this run with --runs ${ENVELOPE_RUNS} --seconds ${ENVELOPE_SECONDS}` : ', which FAILED in this run'}).
${cryptoTables === undefined ? 'Crypto primitives: not run in this run (`npm run bench:crypto`).' : `Crypto primitives (bench/crypto-primitives.ts, run by this run; ops/s, median of 5):\n\n${cryptoTables}`}

### Memory

${soakText}
The benchmark process itself (producers, consumers, kafkajs) went from ${Math.round(rssAtStart / 2 ** 20)} MiB RSS at start
to ${Math.round(rssAfterBroker / 2 ** 20)} MiB after the ${recordsThroughBroker.toLocaleString('en-US')} records through the broker.
`;

const historyRow = `| ${date} | ${gitCommit()} | ${loadAtStart[0]!.toFixed(2)} | ${fmt(base.produce)} | ${fmt(s1.produce)} (${prodRatio.toFixed(2)}) | ${fmt(base.consume)} | ${fmt(s1.consume)} (${consRatio.toFixed(2)}) | ${ms(base.p99)} | ${ms(s1.p99)} | ${fmt(medOf('sealed-3').produce)} / ${fmt(medOf('sealed-3').consume)} | ${fmt(pm.produce)} / ${fmt(pm.consume)} | ${cmd} |`;

console.log(`\n${section}`);
if (WRITE) {
  const path = new URL('../docs/PERFORMANCE.md', import.meta.url);
  let doc: string;
  try {
    doc = readFileSync(path, 'utf8');
  } catch {
    doc = '# Performance\n';
  }
  doc = replaceSection(doc, '## End to end (broker)', section);
  const HISTORY = '## History';
  const HISTORY_HEAD = `${HISTORY}

One row per \`npm run bench\` run (end to end through the broker, medians; newest first). Sealed = session
mode, 1 recipient unless named.

| Date (UTC) | Commit | Load (1 min) | Plain produce/s | Sealed-1 produce/s (ratio) | Plain consume/s | Sealed-1 consume/s (ratio) | Plain p99 ms | Sealed-1 p99 ms | Sealed-3 produce / consume | Per-message produce / consume | Command |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
`;
  const h = doc.indexOf(HISTORY);
  if (h < 0) {
    doc = `${doc.trimEnd()}\n\n${HISTORY_HEAD}${historyRow}\n`;
  } else {
    const tableStart = doc.indexOf('|---|', h);
    const lineEnd = tableStart < 0 ? -1 : doc.indexOf('\n', tableStart);
    doc =
      lineEnd < 0
        ? `${doc.trimEnd()}\n${historyRow}\n`
        : `${doc.slice(0, lineEnd + 1)}${historyRow}\n${doc.slice(lineEnd + 1)}`;
  }
  writeFileSync(path, doc);
  writeFileSync(new URL('../docs/perf-throughput.svg', import.meta.url), svg);
  log(`written to docs/PERFORMANCE.md and docs/perf-throughput.svg`);
}
log('done');

/** Replaces the `## heading` section of `doc` (up to the next `## `) or inserts it before History. */
function replaceSection(doc: string, heading: string, body: string): string {
  const start = doc.indexOf(heading);
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + heading.length);
    return doc.slice(0, start) + body + (next >= 0 ? `\n${doc.slice(next + 1)}` : '');
  }
  const history = doc.indexOf('## History');
  if (history >= 0) return `${doc.slice(0, history)}${body}\n${doc.slice(history)}`;
  return `${doc.trimEnd()}\n\n${body}`;
}
