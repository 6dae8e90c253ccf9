/**
 * The runs of bench/pipeline-in-memory.ts (see there), for it and for bench/pipeline-ab.ts (which
 * loads this module from two trees into one process and alternates them).
 */
import { randomBytes } from 'node:crypto';
import { InMemoryTransport } from '../src/kafka/in-memory-transport.js';
import type { OutgoingRecord, Transport } from '../src/kafka/transport.js';
import { SealedConsumer } from '../src/pipeline/sealed-consumer.js';
import { SealedProducer, type OutgoingMessage } from '../src/pipeline/sealed-producer.js';
import { systemClock } from '../src/runtime/clock.js';
import { cpuUs, mainThreadCpuUs, order, ORDER_SCHEMA, settle, type Order } from './e2e-clients.js';
import { messageFloor } from './envelope-floor.js';
import type { Rig, SampleRecords } from './pipeline-rig.js';
import { sendInBatches } from './send-loop.js';

export const VARIANTS = ['plain', 'sealed-1', 'raw-plain', 'raw-sealed'] as const;
export type Variant = (typeof VARIANTS)[number];
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

/**
 * How long the sealed consumer's state writes take to be acknowledged (ms; idle time, no CPU): a
 * broker round trip. In memory a write is acknowledged at once, so the consumer's hand-out mark lead
 * stays at its minimum and it writes its state every ~18 records, against every ~450 through the
 * broker (bench/profile-e2e.ts prints `stateWrites`); with the broker's latency here it writes about
 * as often as there. `SEALPOST_BENCH_STATE_ACK_MS` sets it (0: acknowledged at once).
 */
const STATE_ACK_MS = Number(process.env.SEALPOST_BENCH_STATE_ACK_MS ?? '3');

/** `t`, with sends to `stateTopic` acknowledged `ms` later. */
function slowStateAcks(t: Transport, stateTopic: string, ms: number): Transport {
  const later = <T>(p: Promise<T>): Promise<T> =>
    p.then((v) => new Promise<T>((resolve) => setTimeout(() => resolve(v), ms)));
  return {
    producer: (options) => {
      const p = t.producer(options);
      return {
        connect: () => p.connect(),
        send: (request) =>
          request.topic === stateTopic ? later(p.send(request)) : p.send(request),
        sendBatch: (requests) =>
          requests.some((r) => r.topic === stateTopic)
            ? later(p.sendBatch(requests))
            : p.sendBatch(requests),
        partitionFor: (topic, key) => p.partitionFor(topic, key),
        partitions: (topic, options) => p.partitions(topic, options),
        disconnect: () => p.disconnect(),
      };
    },
    consumer: (options) => t.consumer(options),
    admin: () => t.admin(),
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
      transport: STATE_ACK_MS > 0 ? slowStateAcks(t, `${topic}-state`, STATE_ACK_MS) : t,
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

export interface Figures {
  produceCpuUs: number;
  consumeCpuUs: number;
  /** The main thread's CPU alone (Node ≥ 23.9, process.threadCpuUsage; NaN before). */
  produceMainCpuUs: number;
  consumeMainCpuUs: number;
  /** The phases' windows on the V8 profiler's clock (µs), for bench/profile-areas.ts --from --to. */
  producerWindow: [number, number];
  consumerWindow: [number, number];
  /** Replay state records the consumer wrote (sealed-1; its state topic's end offset). */
  stateWrites: number;
}

export type Side = 'produceCpuUs' | 'consumeCpuUs';

/** The profiler's clock (µs, monotonic). */
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Called synchronously at the edges of each measured phase (bench/alloc-profile.ts). */
export type PhaseHook = (phase: 'produce' | 'consume', edge: 'start' | 'end') => void;

/** One run of variant `v` on a fresh in-memory cluster: its producer phase, then its consumer phase. */
export async function runVariant(
  v: Variant,
  rig: Rig,
  samples: SampleRecords,
  messages: number,
  onPhase: PhaseHook = () => {},
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
  onPhase('produce', 'start');
  const w0 = monoUs();
  const c0 = cpuUs();
  const m0 = mainThreadCpuUs();
  await sendInBatches(messages, BATCH, IN_FLIGHT, (from, count) => {
    const orders = [];
    for (let k = from; k < from + count; k++) orders.push(order(k, 0));
    return sender.send(orders);
  });
  const produceCpuUs = (cpuUs() - c0) / messages;
  const produceMainCpuUs = (mainThreadCpuUs() - m0) / messages;
  const producerWindow: [number, number] = [w0, monoUs()];
  onPhase('produce', 'end');
  await sender.close();

  settle();
  const total = messages + 1;
  let count = 0;
  let cpuFirst = 0;
  let cpuLast = 0;
  let mainFirst = 0;
  let mainLast = 0;
  let cw0 = 0;
  let cw1 = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const close = await startConsumer(v, t, rig, topic, () => {
    if (count === 0) {
      onPhase('consume', 'start');
      cpuFirst = cpuUs();
      mainFirst = mainThreadCpuUs();
      cw0 = monoUs();
    }
    if (++count === total) {
      cpuLast = cpuUs();
      mainLast = mainThreadCpuUs();
      cw1 = monoUs();
      onPhase('consume', 'end');
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
    produceMainCpuUs,
    consumeMainCpuUs: (mainLast - mainFirst) / (total - 1),
    producerWindow,
    consumerWindow: [cw0, cw1],
    stateWrites,
  };
}

/**
 * The libsodium work of one message, each way, µs per message: `seal`/`open` as bench/envelope-floor.ts
 * (the same buffers every time, so they stay in the CPU's caches), and `coldSeal`/`coldOpen` the same
 * work over `messages` distinct records (≈ 2.3 KB of buffers each, ≈ 45 MB for 20,000: beyond the
 * caches, as the records a pipeline seals and opens are).
 */
export function floor(
  rig: Rig,
  messages: number,
): { seal: number; open: number; coldSeal: number; coldOpen: number } {
  const p = rig.world.crypto;
  const f = messageFloor(p, 1);
  const time = (op: (i: number) => void): number => {
    for (let i = 0; i < 2000; i++) op(i);
    const c0 = cpuUs();
    for (let i = 0; i < messages; i++) op(i);
    return (cpuUs() - c0) / messages;
  };
  const hot = { seal: time(f.seal), open: time(f.open) };
  // As messageFloor, over distinct records: padded body, ciphertext and the digest's input.
  const ctLen = 1136;
  const padded = Array.from({ length: messages }, () => p.randomBytes(ctLen - 16));
  const cts = Array.from({ length: messages }, () => new Uint8Array(ctLen));
  const digestIns = Array.from({ length: messages }, () => p.randomBytes(ctLen + 106));
  const key = p.randomBytes(32);
  const nonce = p.randomBytes(24);
  const aad = p.randomBytes(77);
  const out = new Uint8Array(ctLen - 16);
  const digest = new Uint8Array(32);
  const tagIn = p.randomBytes(50);
  const tag = new Uint8Array(16);
  const keyIn = p.randomBytes(36);
  const kb = new Uint8Array(32);
  for (let i = 0; i < messages; i++) p.aeadEncrypt(cts[i]!, padded[i]!, aad, nonce, key);
  // Evict: the records go through the caches once more before each measured pass.
  const evict = (): void => {
    for (let i = 0; i < messages; i++) p.hash(digest, digestIns[(i * 7919) % messages]!);
  };
  evict();
  const c0 = cpuUs();
  for (let i = 0; i < messages; i++) {
    p.hash(kb, keyIn);
    p.aeadEncrypt(cts[i]!, padded[i]!, aad, nonce, key);
    p.hash(digest, digestIns[i]!);
    p.hash(tag, tagIn, key);
  }
  const coldSeal = (cpuUs() - c0) / messages;
  evict();
  const c1 = cpuUs();
  for (let i = 0; i < messages; i++) {
    p.hash(kb, keyIn);
    p.hash(digest, digestIns[i]!);
    p.hash(tag, tagIn, key);
    if (!p.aeadDecrypt(out, cts[i]!, aad, nonce, key)) throw new Error('floor');
  }
  const coldOpen = (cpuUs() - c1) / messages;
  return { ...hot, coldSeal, coldOpen };
}
