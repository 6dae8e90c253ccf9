/**
 * What sealing adds per record with no Kafka client in it (docs/PERFORMANCE.md "Where the time goes"):
 * the real SealedProducer and SealedConsumer over the in-memory Transport (src/kafka/in-memory-
 * transport.ts, the contract-tested fake), against a plain baseline over the same transport of the
 * same shape as the plain kafkajs variant of bench/e2e-clients.ts (registry Avro encode + send of 500
 * records; fetch + Avro decode + resolve, one commit per batch). Record, batch size (500), sends in
 * flight (2), metrics and registry client as bench/profile-e2e.ts; the registry is the in-memory fake
 * (one call per schema; encode and decode then run from the client's cache, as against Apicurio).
 *
 *   npx tsx bench/pipeline-in-memory.ts [--rounds 7] [--warmup 1] [--messages 20000]
 *     [--only plain,sealed-1,raw-plain,raw-sealed]
 *
 * After `--warmup` rounds that are not counted (the first round runs cold: twice the CPU of the
 * next), each round runs, in an order that alternates between rounds, every variant on a fresh in-memory
 * cluster: its producer phase (CPU from the first send to the last acknowledgement) and its consumer
 * phase (a fresh group from the beginning; CPU from the first record to the last, as profile-e2e).
 *   plain      registry Avro encode + transport send / transport fetch + Avro decode + commit
 *   sealed-1   SealedProducer (session mode, 1 recipient) / SealedConsumer (opens, checks, marks)
 *   raw-plain  the transport alone, on copies of a real plain record (no Avro)
 *   raw-sealed the transport alone, on copies of a real sealed record (key, value, headers)
 * and the libsodium work of one message each way (bench/envelope-floor.ts), 20,000 times. CPU is this
 * process's user + system time (process.cpuUsage). The table gives medians over the rounds (min–max);
 * "added" is sealed − plain per round, "ours" is added − floor − (raw-sealed − raw-plain), i.e. what
 * sealpost's own code adds beyond the libsodium work and beyond what the bigger record costs the
 * transport. The last line is one JSON object with every round's figures and phase windows: for a
 * profile, run under `node --cpu-prof --cpu-prof-interval 200 --import tsx` with `--only sealed-1
 * --rounds 1 --messages 60000` and summarise a window with `bench/profile-areas.ts FILE --from µs
 * --to µs --records N`.
 */
import { randomBytes } from 'node:crypto';
import { InMemoryTransport } from '../src/kafka/in-memory-transport.js';
import type { OutgoingRecord, Transport } from '../src/kafka/transport.js';
import { SealedConsumer } from '../src/pipeline/sealed-consumer.js';
import { SealedProducer, type OutgoingMessage } from '../src/pipeline/sealed-producer.js';
import { systemClock } from '../src/runtime/clock.js';
import { cpuUs, order, ORDER_SCHEMA, settle, type Order } from './e2e-clients.js';
import { messageFloor } from './envelope-floor.js';
import {
  loadAverages,
  makeRig,
  median,
  recordBytes,
  sampleRecords,
  spread,
  type Rig,
} from './pipeline-rig.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const ROUNDS = Number(opt('rounds', '7'));
const WARMUP = Number(opt('warmup', '1'));
const MESSAGES = Number(opt('messages', '20000'));
const VARIANTS = ['plain', 'sealed-1', 'raw-plain', 'raw-sealed'] as const;
type Variant = (typeof VARIANTS)[number];
const ONLY = opt('only', VARIANTS.join(',')).split(',') as Variant[];
for (const v of ONLY) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}`);
const BATCH = 500;
const IN_FLIGHT = 2;

/** A producer phase's sender: one batch of orders, resolved when acknowledged. */
interface Sender {
  send(orders: readonly Order[]): Promise<void>;
  close(): Promise<void>;
}

async function plainSender(t: Transport, rig: Rig, topic: string): Promise<Sender> {
  const schemaId = await rig.registry.register(`${topic}-value`, ORDER_SCHEMA);
  const p = t.producer({ idempotent: true, compression: 'none' });
  await p.connect();
  return {
    send: async (orders) => {
      const records: OutgoingRecord[] = [];
      for (const o of orders)
        records.push({ key: Buffer.from(o.id), value: await rig.registry.encode(schemaId, o) });
      await p.send({ topic, partition: 0, records });
    },
    close: () => p.disconnect(),
  };
}

/** Sends copies of `sample` (fresh buffers per record, as an encoder would make them). */
async function rawSender(t: Transport, topic: string, sample: OutgoingRecord): Promise<Sender> {
  const p = t.producer({ idempotent: true, compression: 'none' });
  await p.connect();
  return {
    send: async (orders) => {
      const records: OutgoingRecord[] = [];
      for (let i = 0; i < orders.length; i++)
        records.push({
          key: Buffer.from(sample.key!),
          value: Buffer.from(sample.value!),
          ...(sample.headers === undefined ? {} : { headers: sample.headers }),
        });
      await p.send({ topic, partition: 0, records });
    },
    close: () => p.disconnect(),
  };
}

async function sealedSender(t: Transport, rig: Rig, topic: string): Promise<Sender> {
  const producer = new SealedProducer({
    transport: t,
    registry: rig.registry,
    crypto: rig.world.crypto,
    clock: systemClock,
    identity: rig.producer,
    directory: rig.directory,
    valueSchemas: { [topic]: ORDER_SCHEMA },
    producerOptions: { compression: 'none' },
    metrics: rig.metrics,
  });
  await producer.connect();
  return {
    send: async (orders) => {
      const messages: OutgoingMessage[] = orders.map((o) => ({ key: o.id, value: o }));
      await producer.send({ topic, recipients: ['bench-r1'], messages });
    },
    close: () => producer.close(),
  };
}

/** Starts a consumer of `v` that calls `seen` once per record; resolves to its close. */
async function startConsumer(
  v: Variant,
  t: Transport,
  rig: Rig,
  topic: string,
  seen: () => void,
): Promise<() => Promise<void>> {
  const groupId = `bench-${v}-${randomBytes(3).toString('hex')}`;
  if (v === 'sealed-1') {
    const consumer = new SealedConsumer({
      transport: t,
      groupId,
      topics: [topic],
      registry: rig.registry,
      crypto: rig.world.crypto,
      clock: systemClock,
      identity: rig.recipient,
      directory: rig.recipientDirectory,
      kms: rig.world.kms,
      stateTopic: `${topic}-state`,
      deadLetterTopic: `${topic}-dlq`,
      deadLetterDetailRecipients: ['bench-r2'],
      fromBeginning: true,
      metrics: rig.metrics,
      consumerOptions: { maxWaitTimeMs: 1000 },
    });
    await consumer.run({
      eachMessage: () => {
        seen();
        return Promise.resolve();
      },
    });
    return () => consumer.close();
  }
  const decode = v === 'plain';
  const c = t.consumer({ groupId, maxWaitTimeMs: 1000 });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  await c.run({
    eachBatch: async (batch, control) => {
      let last: string | undefined;
      for (const r of batch.records) {
        if (decode) await rig.registry.decode(r.value!);
        seen();
        control.resolveOffset(r.offset);
        last = r.offset;
      }
      if (last !== undefined)
        await c.commitOffsets([
          {
            topic: batch.topic,
            partition: batch.partition,
            offset: String(BigInt(last) + 1n),
            metadata: null,
          },
        ]);
      await control.heartbeat();
    },
  });
  return () => c.disconnect();
}

interface Figures {
  produceCpuUs: number;
  consumeCpuUs: number;
  /** The phases' windows on the V8 profiler's clock (µs), for bench/profile-areas.ts --from --to. */
  producerWindow: [number, number];
  consumerWindow: [number, number];
  /** Replay state records the consumer wrote (sealed-1; its state topic's end offset). */
  stateWrites: number;
}

type Side = 'produceCpuUs' | 'consumeCpuUs';

/** The profiler's clock (µs, monotonic). */
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function runVariant(
  v: Variant,
  rig: Rig,
  samples: { plain: OutgoingRecord; sealed: OutgoingRecord },
): Promise<Figures> {
  const t = new InMemoryTransport();
  const topic = `bench-mem-${randomBytes(3).toString('hex')}`;
  await t.admin().createTopics([
    { topic, numPartitions: 1 },
    { topic: `${topic}-dlq`, numPartitions: 1 },
    { topic: `${topic}-state`, numPartitions: 1, compacted: true },
  ]);
  const sender =
    v === 'plain'
      ? await plainSender(t, rig, topic)
      : v === 'sealed-1'
        ? await sealedSender(t, rig, topic)
        : await rawSender(t, topic, v === 'raw-plain' ? samples.plain : samples.sealed);
  await sender.send([order(-1, 0)]); // metadata, schema, first session
  settle();
  const inflight = new Set<Promise<void>>();
  const w0 = monoUs();
  const c0 = cpuUs();
  for (let i = 0; i < MESSAGES; i += BATCH) {
    const orders = [];
    for (let k = i; k < Math.min(MESSAGES, i + BATCH); k++) orders.push(order(k, 0));
    const sent: Promise<void> = sender.send(orders).finally(() => inflight.delete(sent));
    inflight.add(sent);
    if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const produceCpuUs = (cpuUs() - c0) / MESSAGES;
  const producerWindow: [number, number] = [w0, monoUs()];
  await sender.close();

  settle();
  const total = MESSAGES + 1;
  let count = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let cw0 = 0;
  let cw1 = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const close = await startConsumer(v, t, rig, topic, () => {
    if (count === 0) {
      cpuFirst = cpuUs();
      cw0 = monoUs();
    }
    if (++count === total) {
      cpuLast = cpuUs();
      cw1 = monoUs();
      done();
    }
  });
  const timer = setTimeout(() => done(), 120_000);
  await all;
  clearTimeout(timer);
  await close();
  if (count < total) throw new Error(`${v}: consumed ${count} of ${total} records in 120 s`);
  const [state] = await t.admin().fetchTopicOffsets(`${topic}-state`);
  const stateWrites = Number(state?.high ?? 0);
  return {
    produceCpuUs,
    consumeCpuUs: (cpuLast - cpuFirst) / (total - 1),
    producerWindow,
    consumerWindow: [cw0, cw1],
    stateWrites,
  };
}

/** The libsodium work of one message, each way, µs per message (bench/envelope-floor.ts). */
function floor(rig: Rig): { seal: number; open: number } {
  const f = messageFloor(rig.world.crypto, 1);
  const time = (op: () => void): number => {
    for (let i = 0; i < 2000; i++) op();
    const c0 = cpuUs();
    for (let i = 0; i < MESSAGES; i++) op();
    return (cpuUs() - c0) / MESSAGES;
  };
  return { seal: time(f.seal), open: time(f.open) };
}

const rig = await makeRig();
const samples = await sampleRecords(rig);
const loadStart = await loadAverages();
console.log(
  `records: plain ${recordBytes(samples.plain)} B (value ${samples.plain.value!.length}), sealed ${recordBytes(samples.sealed)} B (value ${samples.sealed.value!.length}, key ${samples.sealed.key?.length ?? 0}, ${samples.sealed.headers?.length ?? 0} headers); load ${loadStart}`,
);
const rounds: (Record<Variant, Figures> & { floor: { seal: number; open: number } })[] = [];
for (let w = 0; w < WARMUP; w++) for (const v of ONLY) await runVariant(v, rig, samples);
for (let r = 0; r < ROUNDS; r++) {
  const order_ = r % 2 === 0 ? ONLY : [...ONLY].reverse();
  const round = {} as Record<Variant, Figures>;
  for (const v of order_) round[v] = await runVariant(v, rig, samples);
  const fl = floor(rig);
  rounds.push({ ...round, floor: fl });
  console.log(
    `round ${r + 1}: ${order_.map((v) => `${v} ${round[v].produceCpuUs.toFixed(2)}/${round[v].consumeCpuUs.toFixed(2)}`).join(', ')}, floor ${fl.seal.toFixed(2)}/${fl.open.toFixed(2)} µs (producer/consumer)`,
  );
}

const col = (f: (x: (typeof rounds)[number]) => number): number[] => rounds.map(f);
const has = (v: Variant): boolean => ONLY.includes(v);
console.log(`\nCPU µs per record, median (min–max) of ${ROUNDS} rounds, ${MESSAGES} records each:`);
console.log('| | producer | consumer |\n|---|---:|---:|');
const row = (name: string, p: number[], c: number[]): void =>
  console.log(`| ${name} | ${spread(p)} | ${spread(c)} |`);
for (const v of ONLY)
  row(
    v,
    col((x) => x[v].produceCpuUs),
    col((x) => x[v].consumeCpuUs),
  );
row(
  'libsodium floor (one message)',
  col((x) => x.floor.seal),
  col((x) => x.floor.open),
);
if (has('plain') && has('sealed-1')) {
  const added = (side: Side) => col((x) => x['sealed-1'][side] - x.plain[side]);
  row('added (sealed-1 − plain, per round)', added('produceCpuUs'), added('consumeCpuUs'));
  row(
    'added / floor',
    col((x) => (x['sealed-1'].produceCpuUs - x.plain.produceCpuUs) / x.floor.seal),
    col((x) => (x['sealed-1'].consumeCpuUs - x.plain.consumeCpuUs) / x.floor.open),
  );
  row(
    'sealed-1 / plain',
    col((x) => x['sealed-1'].produceCpuUs / x.plain.produceCpuUs),
    col((x) => x['sealed-1'].consumeCpuUs / x.plain.consumeCpuUs),
  );
  if (has('raw-plain') && has('raw-sealed')) {
    const size = (side: Side) => col((x) => x['raw-sealed'][side] - x['raw-plain'][side]);
    row('transport: raw-sealed − raw-plain', size('produceCpuUs'), size('consumeCpuUs'));
    const ours = (side: Side, fl: 'seal' | 'open') =>
      col(
        (x) =>
          x['sealed-1'][side] -
          x.plain[side] -
          x.floor[fl] -
          (x['raw-sealed'][side] - x['raw-plain'][side]),
      );
    row(
      'ours = added − floor − transport size cost',
      ours('produceCpuUs', 'seal'),
      ours('consumeCpuUs', 'open'),
    );
    row(
      'Avro + plain shape = plain − raw-plain',
      col((x) => x.plain.produceCpuUs - x['raw-plain'].produceCpuUs),
      col((x) => x.plain.consumeCpuUs - x['raw-plain'].consumeCpuUs),
    );
  }
}
console.log(`load averages: start ${loadStart}, end ${await loadAverages()}`);
console.log(
  JSON.stringify({
    messages: MESSAGES,
    medianFloor: {
      seal: median(col((x) => x.floor.seal)),
      open: median(col((x) => x.floor.open)),
    },
    rounds,
  }),
);
await rig.close();
