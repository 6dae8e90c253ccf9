/**
 * What the sealed record's size costs kafkajs alone (docs/PERFORMANCE.md "Where the time goes"):
 * kafkajs producing and consuming raw bytes against the shared broker — copies of a real sealed record
 * (session mode, 1 recipient: key, value and headers as a SealedProducer hands them to the transport)
 * against copies of a real plain record (registry Avro of the same order) — with no Avro, no sealing
 * and no sealpost code on the measured path. Settings as the plain variant of bench/e2e-clients.ts:
 * idempotent producer, one request in flight per connection, acks=all, no compression, batches of 500
 * with 2 sends in flight, partition 0; a consumer group from the beginning (eachBatch: resolve each
 * record, heartbeat; kafkajs' auto-commit), fetch wait 1 s. kafkajs runs as under the transport (native
 * CRC32C, linear grouping and produce encoding: src/kafka/kafkajs-transport.ts is loaded first).
 *
 *   set -a && . .stack/env && set +a   # or the stack's endpoints in the environment
 *   npx tsx bench/kafkajs-size.ts [--rounds 5] [--messages 20000] [--adapter] [--with-e2e | --account]
 *
 * Each round runs raw-plain and raw-sealed (order alternating between rounds) on fresh topics: the
 * producer phase's CPU from the first send to the last acknowledgement, the consumer phase's from the
 * first record to the last. `--adapter` adds adapter-sealed: the sealed record's bytes through sealpost's
 * kafkajs Transport adapter as the pipeline drives it (no sealing), i.e. what the adapter adds to
 * kafkajs. `--with-e2e` adds, in each round, one bench/profile-e2e.ts process per
 * variant (plain, sealed-1; alternating), so the account's totals come from the same session.
 * `--account` adds to that one bench/pipeline-in-memory.ts process per round (one counted round after
 * a warm-up) and prints the additive account per side, per round then medians: plain total + the
 * libsodium floor + ours (in memory: sealed − plain − floor − the in-memory transport's size cost) +
 * kafkajs' size cost (raw-sealed − raw-plain) + our adapter (adapter-sealed − raw-sealed; --account
 * implies --adapter) against the measured sealed total; the rest is what
 * the parts do not explain (the sealed consumer's state writes and commits through kafkajs, garbage
 * collection of both together, the adapter). CPU is
 * the process's user + system time (process.cpuUsage), medians over rounds (min–max); the last line
 * is one JSON object with every round's figures.
 */
// Before kafkajs: the transport's replacements of kafkajs modules (native CRC32C, linear grouping and
// produce encoding) apply to every kafkajs client in the process, the raw ones here too.
import '../src/kafka/kafkajs-transport.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { createKafkajsTransport } from '../src/kafka/kafkajs-transport.js';
import type { OutgoingRecord } from '../src/kafka/transport.js';
import { getEndpoints } from '../test/support/endpoints.js';
import { cpuUs, FETCH_WAIT_MS, settle } from './e2e-clients.js';
import { loadAverages, makeRig, recordBytes, sampleRecords, spread } from './pipeline-rig.js';
import { sendInBatches } from './send-loop.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const ROUNDS = Number(opt('rounds', '5'));
const MESSAGES = Number(opt('messages', '20000'));
const ACCOUNT = argv.includes('--account');
const WITH_E2E = ACCOUNT || argv.includes('--with-e2e');
const ADAPTER = ACCOUNT || argv.includes('--adapter');
const BATCH = 500;
const IN_FLIGHT = 2;

const e = getEndpoints();
const rig = await makeRig();
const samples = await sampleRecords(rig);
await rig.close();
const kafka = new kafkajs.Kafka({
  clientId: 'bench-kafkajs-size',
  brokers: [...e.kafkaBrokers],
  logLevel: kafkajs.logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();

/** The produce phase: one warm-up send (metadata, producer id), then MESSAGES records in sends of
 *  BATCH with IN_FLIGHT outstanding; the CPU µs per record of those sends. */
async function producePhase(send: (n: number) => Promise<void>): Promise<number> {
  await send(1);
  settle();
  const c0 = cpuUs();
  await sendInBatches(MESSAGES, BATCH, IN_FLIGHT, (_from, count) => send(count));
  return (cpuUs() - c0) / MESSAGES;
}

interface Figures {
  produceCpuUs: number;
  consumeCpuUs: number;
}

async function runRaw(sample: OutgoingRecord): Promise<Figures> {
  const topic = `bench-kjs-size-${randomBytes(3).toString('hex')}`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
  });
  const message = () => ({
    partition: 0,
    key: Buffer.from(sample.key!),
    value: Buffer.from(sample.value!),
    ...(sample.headers === undefined || sample.headers.length === 0
      ? {}
      : { headers: Object.fromEntries(sample.headers.map((h) => [h.key, h.value ?? ''])) }),
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const send = async (n: number): Promise<void> => {
    const messages = [];
    for (let i = 0; i < n; i++) messages.push(message());
    await producer.send({ topic, acks: -1, compression: kafkajs.CompressionTypes.None, messages });
  };
  const produceCpuUs = await producePhase(send);
  await producer.disconnect();

  settle();
  const total = MESSAGES + 1;
  let count = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const consumer = kafka.consumer({
    groupId: `${topic}-g`,
    maxWaitTimeInMs: FETCH_WAIT_MS,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async (payload) => {
      for (const m of payload.batch.messages) {
        if (count === 0) cpuFirst = cpuUs();
        if (++count === total) {
          cpuLast = cpuUs();
          done();
        }
        payload.resolveOffset(m.offset);
      }
      await payload.heartbeat();
    },
  });
  const timer = setTimeout(() => done(), 180_000);
  await all;
  clearTimeout(timer);
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  if (count < total) throw new Error(`consumed ${count} of ${total} records in 180 s`);
  return { produceCpuUs, consumeCpuUs: (cpuLast - cpuFirst) / (total - 1) };
}

/**
 * The same as runRaw through sealpost's kafkajs Transport adapter (src/kafka/kafkajs-transport.ts),
 * used as the pipeline uses it: sendBatch of one request per batch (no compression), and a consumer
 * that resolves the batch's last offset once and heartbeats (the SealedConsumer commits with its
 * state writes, ~40 per 20,000 records; left out here). No sealing: what the adapter adds to kafkajs.
 */
async function runAdapter(sample: OutgoingRecord): Promise<Figures> {
  const topic = `bench-kjs-size-${randomBytes(3).toString('hex')}`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
  });
  const transport = createKafkajsTransport({
    brokers: e.kafkaBrokers,
    clientId: 'bench-kafkajs-size-adapter',
    logger: pino({ level: 'silent' }),
    nowMs: () => Date.now(),
  });
  const producer = transport.producer({ compression: 'none' });
  await producer.connect();
  const send = async (n: number): Promise<void> => {
    const records: OutgoingRecord[] = [];
    for (let i = 0; i < n; i++)
      records.push({
        key: Buffer.from(sample.key!),
        value: Buffer.from(sample.value!),
        ...(sample.headers === undefined ? {} : { headers: sample.headers }),
      });
    await producer.sendBatch([
      { topic, partition: await producer.partitionFor(topic, null), records },
    ]);
  };
  const produceCpuUs = await producePhase(send);
  await producer.disconnect();

  settle();
  const total = MESSAGES + 1;
  let count = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const consumer = transport.consumer({ groupId: `${topic}-g`, maxWaitTimeMs: FETCH_WAIT_MS });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async (batch, control) => {
      let last: string | undefined;
      for (const r of batch.records) {
        if (count === 0) cpuFirst = cpuUs();
        if (++count === total) {
          cpuLast = cpuUs();
          done();
        }
        last = r.offset;
      }
      if (last !== undefined) control.resolveOffset(last);
      await control.heartbeat();
    },
  });
  const timer = setTimeout(() => done(), 180_000);
  await all;
  clearTimeout(timer);
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  if (count < total) throw new Error(`consumed ${count} of ${total} records in 180 s`);
  return { produceCpuUs, consumeCpuUs: (cpuLast - cpuFirst) / (total - 1) };
}

/** One bench/profile-e2e.ts process of `variant` (its own setup, then the measured phases). */
function runE2e(variant: 'plain' | 'sealed-1'): Figures {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./profile-e2e.ts', import.meta.url)),
      '--variant',
      variant,
      '--messages',
      String(MESSAGES),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as Figures;
}

interface InMemoryRound {
  plain: Figures;
  'sealed-1': Figures;
  'raw-plain': Figures;
  'raw-sealed': Figures;
  floor: { seal: number; open: number };
}

/** One bench/pipeline-in-memory.ts process: one counted round of its four variants and the floor. */
function runInMemory(): InMemoryRound {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./pipeline-in-memory.ts', import.meta.url)),
      '--rounds',
      '1',
      '--messages',
      String(MESSAGES),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return (JSON.parse(out.trim().split('\n').at(-1)!) as { rounds: InMemoryRound[] }).rounds[0]!;
}

const loadStart = await loadAverages();
console.log(
  `records: raw-plain ${recordBytes(samples.plain)} B, raw-sealed ${recordBytes(samples.sealed)} B (value ${samples.sealed.value!.length}, key ${samples.sealed.key?.length ?? 0}, ${samples.sealed.headers?.length ?? 0} headers); load ${loadStart}`,
);
type Name = 'raw-plain' | 'raw-sealed' | 'adapter-sealed' | 'e2e-plain' | 'e2e-sealed-1';
const rounds: Partial<Record<Name, Figures>>[] = [];
const inMemory: InMemoryRound[] = [];
await runRaw(samples.plain); // warm-up, not counted
for (let r = 0; r < ROUNDS; r++) {
  const steps: [Name, () => Promise<Figures> | Figures][] = [
    ['raw-plain', () => runRaw(samples.plain)],
    ['raw-sealed', () => runRaw(samples.sealed)],
    ...(ADAPTER
      ? ([['adapter-sealed', () => runAdapter(samples.sealed)]] as [Name, () => Promise<Figures>][])
      : []),
    ...(WITH_E2E
      ? ([
          ['e2e-plain', () => runE2e('plain')],
          ['e2e-sealed-1', () => runE2e('sealed-1')],
        ] as [Name, () => Figures][])
      : []),
  ];
  if (r % 2 === 1) steps.reverse();
  const round: Partial<Record<Name, Figures>> = {};
  if (ACCOUNT && r % 2 === 1) inMemory.push(runInMemory());
  for (const [name, run] of steps) round[name] = await run();
  if (ACCOUNT && r % 2 === 0) inMemory.push(runInMemory());
  rounds.push(round);
  console.log(
    `round ${r + 1}: ${steps.map(([n]) => `${n} ${round[n]!.produceCpuUs.toFixed(2)}/${round[n]!.consumeCpuUs.toFixed(2)}`).join(', ')} µs (producer/consumer); load ${await loadAverages()}`,
  );
}

const col = (f: (x: (typeof rounds)[number]) => number): number[] => rounds.map(f);
console.log(`\nCPU µs per record, median (min–max) of ${ROUNDS} rounds, ${MESSAGES} records each:`);
console.log('| | producer | consumer |\n|---|---:|---:|');
const row = (name: string, p: number[], c: number[]): void =>
  console.log(`| ${name} | ${spread(p)} | ${spread(c)} |`);
const names: Name[] = ['raw-plain', 'raw-sealed', 'adapter-sealed', 'e2e-plain', 'e2e-sealed-1'];
for (const n of names)
  if (rounds[0]![n] !== undefined)
    row(
      n,
      col((x) => x[n]!.produceCpuUs),
      col((x) => x[n]!.consumeCpuUs),
    );
const diff = (a: Name, b: Name, side: keyof Figures) => col((x) => x[a]![side] - x[b]![side]);
row(
  'kafkajs size cost = raw-sealed − raw-plain',
  diff('raw-sealed', 'raw-plain', 'produceCpuUs'),
  diff('raw-sealed', 'raw-plain', 'consumeCpuUs'),
);
if (ADAPTER)
  row(
    'our adapter = adapter-sealed − raw-sealed',
    diff('adapter-sealed', 'raw-sealed', 'produceCpuUs'),
    diff('adapter-sealed', 'raw-sealed', 'consumeCpuUs'),
  );
if (WITH_E2E)
  row(
    'added end to end = e2e-sealed-1 − e2e-plain',
    diff('e2e-sealed-1', 'e2e-plain', 'produceCpuUs'),
    diff('e2e-sealed-1', 'e2e-plain', 'consumeCpuUs'),
  );
if (ACCOUNT) {
  // The additive account, per round (each part from the same round), then medians over rounds.
  const sides = [
    ['producer', 'produceCpuUs', 'seal'],
    ['consumer', 'consumeCpuUs', 'open'],
  ] as const;
  for (const [label, side, fl] of sides) {
    const parts = rounds.map((x, i) => {
      const m = inMemory[i]!;
      const plain = x['e2e-plain']![side];
      const floor = m.floor[fl];
      const ours =
        m['sealed-1'][side] -
        m.plain[side] -
        floor -
        (m['raw-sealed'][side] - m['raw-plain'][side]);
      const size = x['raw-sealed']![side] - x['raw-plain']![side];
      const adapter = x['adapter-sealed']![side] - x['raw-sealed']![side];
      const sum = plain + floor + ours + size + adapter;
      const sealed = x['e2e-sealed-1']![side];
      return {
        plain,
        floor,
        ours,
        size,
        adapter,
        sum,
        sealed,
        rest: sealed - sum,
        explained: sum / sealed,
      };
    });
    console.log(
      `\nThe account, ${label} (CPU µs per record, median (min–max) of ${ROUNDS} rounds):`,
    );
    console.log('| part | µs |\n|---|---:|');
    const line = (name: string, f: (p: (typeof parts)[number]) => number, digits = 2) =>
      console.log(`| ${name} | ${spread(parts.map(f), digits)} |`);
    line('plain total (profile-e2e plain)', (p) => p.plain);
    line('+ libsodium floor (in process)', (p) => p.floor);
    line('+ ours (in memory: added − floor − transport size cost)', (p) => p.ours);
    line('+ kafkajs size cost (raw-sealed − raw-plain)', (p) => p.size);
    line('+ our kafkajs adapter (adapter-sealed − raw-sealed)', (p) => p.adapter);
    line('= sum of the parts', (p) => p.sum);
    line('measured sealed total (profile-e2e sealed-1)', (p) => p.sealed);
    line('rest = measured − sum', (p) => p.rest);
    line('sum / measured', (p) => p.explained, 3);
  }
}
console.log(`load averages: start ${loadStart}, end ${await loadAverages()}`);
await admin.disconnect();
console.log(JSON.stringify({ messages: MESSAGES, rounds, inMemory }));
