/**
 * Where the time goes, as `npm run bench` drives the clients (docs/PERFORMANCE.md "Where the time
 * goes"): one variant's producer phase (N records, batches of 500, 2 in flight) and then its consumer
 * phase (a fresh group reads them), with wall-clock rate and this process's CPU per record.
 *
 *   npx tsx bench/profile-e2e.ts [--variant plain|sealed-1|sealed-3|per-message] [--messages 20000]
 *     [--profile] [--js-crc32c] [--commit-every N] [--no-metrics] [--phase-stats] [--no-settle]
 *     [--out-dir /tmp] [--label x]
 *
 * `--profile` runs the same in a child under `node --cpu-prof` (sampling every 200 µs) and prints
 * self time by area (bench/profile-areas.ts) over each measured phase alone (the profile's samples
 * between the phase's start and end); the `.cpuprofile` stays in --out-dir (default /tmp), never in
 * the repository. `--js-crc32c` keeps kafkajs' own JavaScript CRC32C (by loading kafkajs' record
 * batch encoder before the transport installs the native one, src/kafka/kafkajs-crc32c.ts), for an
 * A/B of the two. `--commit-every N` sets the sealed consumer's `commitEveryRecords` and
 * `--no-metrics` runs the sealed producer and consumer without PipelineMetrics (with bench/ab-compare.ts
 * `--b-args`, what state writes and metrics cost per record). Under Node ≥ 23.9 each phase also
 * reports the main thread's CPU alone (`process.threadCpuUsage`): the rest of the process's CPU is
 * V8's helper threads (garbage collection) and libuv's. `--phase-stats` prints, per phase, the same
 * split on every Node version (bench/phase-stats.ts, from /proc), the collections in the phase and
 * the heap at its start. The last line is one JSON object with the figures and the phases' windows,
 * for scripts that interleave runs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VariantId } from './e2e-clients.js';
import { formatSummary, summarise, type CpuProfile } from './profile-areas.js';
import { sendInBatches } from './send-loop.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const flag = (name: string): boolean => argv.includes(`--${name}`);
const OUT_DIR = opt('out-dir', '/tmp');
const LABEL = opt('label', 'run');

if (flag('profile')) {
  // The same run in a child under the V8 CPU profiler; then the measured phases' summaries.
  const dir = mkdtempSync(join(OUT_DIR, 'sealpost-profile-'));
  const out = execFileSync(
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      dir,
      '--cpu-prof-interval',
      '200',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      ...argv.filter((a) => a !== '--profile'),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  process.stdout.write(out);
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  const file = join(
    dir,
    readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!,
  );
  const kept = join(OUT_DIR, `sealpost-${LABEL}-${String(result.variant)}.cpuprofile`);
  renameSync(file, kept);
  const profile = JSON.parse(readFileSync(kept, 'utf8')) as CpuProfile;
  for (const side of ['producer', 'consumer'] as const) {
    const w = result[`${side}Window`] as [number, number, number] | undefined;
    if (w === undefined) continue;
    console.log(`\n== ${String(result.variant)} ${side} (${kept}, ${w[2]} records)`);
    console.log(formatSummary(summarise(profile, { fromUs: w[0], toUs: w[1] }), w[2], 30));
  }
  process.exit(0);
}

// Before the transport loads: with kafkajs' encoder already in the cache it keeps its own CRC32C.
if (flag('js-crc32c'))
  (await import('node:module')).createRequire(import.meta.url)(
    'kafkajs/src/protocol/recordBatch/v0/index.js',
  );

// The transport before kafkajs: it replaces kafkajs modules (grouping, produce encoding) that
// kafkajs loads with its index, so an earlier `import('kafkajs')` would keep kafkajs' own.
const { createKafkajsTransport } = await import('../src/kafka/kafkajs-transport.js');
const { default: kafkajs } = await import('kafkajs');
const { default: pino } = await import('pino');
const { loadIdentity } = await import('../src/keys/identity-file.js');
const { PipelineMetrics } = await import('../src/pipeline/pipeline-metrics.js');
const { SchemaRegistryClient } = await import('../src/registry/schema-registry-client.js');
const { Registry } = await import('prom-client');
const { getEndpoints } = await import('../test/support/endpoints.js');
const { makePipelineWorld } = await import('../test/support/pipeline-world.js');
const clients = await import('./e2e-clients.js');

const stats = await import('./phase-stats.js');
/** --phase-stats: a `[phase]` line per phase (bench/phase-stats.ts: thread CPU, collections, heap). */
const PHASE_STATS = flag('phase-stats');
if (PHASE_STATS) stats.startGcObserver();
/** --no-settle: no forced full collection before each phase (bench/e2e-clients.ts setSettleCollects). */
if (flag('no-settle')) clients.setSettleCollects(false);
const printPhase = async (
  label: string,
  a: ReturnType<typeof stats.phaseMark>,
  b: ReturnType<typeof stats.phaseMark>,
  records: number,
): Promise<void> => {
  await new Promise((r) => setImmediate(r));
  console.log(stats.formatPhase(label, a, b, records));
};

const VARIANT = opt('variant', 'sealed-1') as VariantId;
if (!['plain', 'sealed-1', 'sealed-3', 'per-message'].includes(VARIANT))
  throw new Error(`unknown --variant ${VARIANT}`);
const MESSAGES = Number(opt('messages', '20000'));
/** --commit-every N: the sealed consumer's commitEveryRecords (default the library's, 500). */
const COMMIT_EVERY = opt('commit-every', '');
/** --no-metrics: the sealed producer and consumer without PipelineMetrics (what the metrics cost). */
const NO_METRICS = flag('no-metrics');
const BATCH = 500;
const IN_FLIGHT = 2;

const e = getEndpoints();
const world = await makePipelineWorld([
  { name: 'bench-producer', send: ['bench-*'], receive: [] },
  { name: 'bench-r1', send: ['bench-*'], receive: ['bench-*'] },
  { name: 'bench-r2', send: [], receive: ['bench-*'] },
  { name: 'bench-r3', send: [], receive: ['bench-*'] },
]);
const registry = new SchemaRegistryClient({ url: e.schemaRegistryUrl, fetch: globalThis.fetch });
const transport = createKafkajsTransport({
  brokers: e.kafkaBrokers,
  clientId: 'bench-profile',
  logger: pino({ level: 'silent' }),
  nowMs: () => Date.now(),
});
const kafka = new kafkajs.Kafka({
  clientId: 'bench-profile-plain',
  brokers: [...e.kafkaBrokers],
  logLevel: kafkajs.logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const runId = randomBytes(3).toString('hex');
const topic = `bench-profile-${runId}`;
const stateTopic = `${topic}-state`;
const deadLetterTopic = `${topic}-dlq`;
await admin.createTopics({
  waitForLeaders: true,
  topics: [
    { topic, numPartitions: 1, replicationFactor: 1 },
    { topic: deadLetterTopic, numPartitions: 1, replicationFactor: 1 },
    {
      topic: stateTopic,
      numPartitions: 1,
      replicationFactor: 1,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ],
});
const load = (name: string) =>
  loadIdentity(world.files.get(name)!, { crypto: world.crypto, kms: world.kms });
const producerIdentity = await load('bench-producer');
const consumerIdentity = await load('bench-r1');
const directory = await world.directory();
const metrics = new PipelineMetrics(new Registry());

const figures: Record<string, string | number | number[]> = { variant: VARIANT, label: LABEL };
/** The main thread's share, where Node reports it (e2e-clients.ts mainThreadCpuUs). */
const mainNote = (us: unknown): string =>
  typeof us === 'number' && Number.isFinite(us) ? ` (main thread ${us})` : '';
/** The profiler's clock (µs, monotonic): the phases' windows for --profile. */
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

const producer = await clients.startVariantProducer(
  {
    kafka,
    transport,
    registry,
    crypto: world.crypto,
    identity: producerIdentity,
    directory,
    schemaRegistryUrl: e.schemaRegistryUrl,
  },
  VARIANT,
  topic,
  NO_METRICS ? undefined : metrics,
);
await producer.send([clients.order(-1, clients.nowUs())]); // metadata, schema, first session
clients.settle();
{
  const w0 = monoUs();
  const p0 = stats.phaseMark();
  const t0 = performance.now();
  const c0 = clients.cpuUs();
  const m0 = clients.mainThreadCpuUs();
  await sendInBatches(MESSAGES, BATCH, IN_FLIGHT, (from, count) => {
    const orders = [];
    for (let k = from; k < from + count; k++) orders.push(clients.order(k, clients.nowUs()));
    return producer.send(orders);
  });
  figures.producePerSecond = Math.round(MESSAGES / ((performance.now() - t0) / 1000));
  figures.produceCpuUs = Number(((clients.cpuUs() - c0) / MESSAGES).toFixed(2));
  figures.produceMainCpuUs = Number(((clients.mainThreadCpuUs() - m0) / MESSAGES).toFixed(2));
  figures.producerWindow = [w0, monoUs(), MESSAGES];
  if (PHASE_STATS) await printPhase(`${VARIANT} produce`, p0, stats.phaseMark(), MESSAGES);
}
console.log(
  `${VARIANT} producer: ${figures.producePerSecond} msg/s, ${figures.produceCpuUs} µs CPU/record${mainNote(figures.produceMainCpuUs)}`,
);
await producer.close();

{
  const total = MESSAGES + 1;
  let count = 0;
  let first = 0;
  let last = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let mainFirst = 0;
  let mainLast = 0;
  let w0 = 0;
  let w1 = 0;
  let p0: ReturnType<typeof stats.phaseMark> | undefined;
  let p1: ReturnType<typeof stats.phaseMark> | undefined;
  clients.settle();
  const consumer = await clients.startVariantConsumer(
    {
      kafka,
      transport,
      registry,
      crypto: world.crypto,
      identity: consumerIdentity,
      directory,
      kms: world.kms,
      stateTopic,
      deadLetterTopic,
      runId,
      schemaRegistryUrl: e.schemaRegistryUrl,
    },
    VARIANT,
    topic,
    VARIANT === 'plain' || NO_METRICS ? undefined : metrics,
    () => {
      const t = performance.now();
      if (count === 0) {
        first = t;
        cpuFirst = clients.cpuUs();
        mainFirst = clients.mainThreadCpuUs();
        w0 = monoUs();
        if (PHASE_STATS) p0 = stats.phaseMark();
      }
      if (++count === total) {
        last = t;
        cpuLast = clients.cpuUs();
        mainLast = clients.mainThreadCpuUs();
        w1 = monoUs();
        if (PHASE_STATS) p1 = stats.phaseMark();
      }
    },
    COMMIT_EVERY === '' ? {} : { commitEveryRecords: Number(COMMIT_EVERY) },
  );
  const deadline = performance.now() + 180_000;
  while (count < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  if (count < total) throw new Error(`consumed ${count} of ${total} records in 180 s`);
  figures.consumePerSecond = Math.round((total - 1) / ((last - first) / 1000));
  figures.consumeCpuUs = Number(((cpuLast - cpuFirst) / (total - 1)).toFixed(2));
  figures.consumeMainCpuUs = Number(((mainLast - mainFirst) / (total - 1)).toFixed(2));
  console.log(
    `${VARIANT} consumer: ${figures.consumePerSecond} msg/s, ${figures.consumeCpuUs} µs CPU/record${mainNote(figures.consumeMainCpuUs)} (first to last record)`,
  );
  figures.consumerWindow = [w0, w1, total - 1];
  if (p0 !== undefined && p1 !== undefined)
    await printPhase(`${VARIANT} consume`, p0, p1, total - 1);
  await consumer.close();
}
// Replay state records the sealed consumer wrote (one per state write; each is followed by a commit).
figures.stateWrites = (await admin.fetchTopicOffsets(stateTopic)).reduce(
  (n, p) => n + Number(p.high),
  0,
);
await admin.deleteTopics({ topics: [topic, stateTopic, deadLetterTopic] });
await admin.disconnect();
producerIdentity.close();
consumerIdentity.close();
await world.cleanup();
console.log(JSON.stringify(figures));
