/**
 * A worker thread of bench/worker-open.ts: holds an EnvelopeOpener with the recipient's key, opens
 * the batches posted to it (docs/SPEC.md §5 steps 1–8; no replay window here: the windows and their
 * marks stay on the main thread, which checks each seq in the results) and posts back one buffer of
 * result rows and opened payloads. The opened plaintext is copied into that buffer and zeroed where
 * the opener put it. On `close` it closes the opener and zeroes its copy of the secret key.
 *
 * workerData: { setup: OpenerPublicSetup, secretKey: Uint8Array (over a transferred ArrayBuffer),
 * transfer: boolean (post results with a transfer list, or let structured clone copy them) }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createCryptoProvider } from '../src/crypto/index.js';
import { isEnvelopeError, type OpenedMessage, schemaFingerprint } from '../src/envelope/index.js';
import { AvroCodec } from '../src/registry/avro-codec.js';
import { decodeConfluentFrame } from '../src/registry/confluent-wire-format.js';
import {
  type BatchMessage,
  INDEX_INTS,
  newOpener,
  ORDER_SCHEMA,
  type OpenerPublicSetup,
  RESULT_ROW,
  type ResultMessage,
  ROW,
  SCHEMA_ID,
  STATUS_DELIVERED,
  STATUS_DUPLICATE,
  STATUS_NOT_ADDRESSED,
  STATUS_REFUSED,
  STATUS_THROTTLED,
  TOPIC,
} from './worker-open-setup.js';
import { type ControlMessage, type ReplyMessage, threadCpuUs } from './worker-pool.js';

const port = parentPort;
if (port === null) throw new Error('worker-open-thread.ts runs as a worker thread');
const data = workerData as {
  readonly setup: OpenerPublicSetup;
  readonly secretKey: Uint8Array;
  readonly transfer: boolean;
};
const provider = await createCryptoProvider('sodium-native');
const secretKey = data.secretKey;
const opener = newOpener(provider, data.setup, secretKey);
const transfer = data.transfer;
/** The writer schema (a real pool would be sent each schema the main thread fetched). */
const codec = AvroCodec.parse(ORDER_SCHEMA);
const fp = schemaFingerprint(provider, ORDER_SCHEMA);

/** Hex of the session's own byte arrays (shared per session), computed once per array. */
const hexOf = new WeakMap<Uint8Array, string>();
function hex(b: Uint8Array): string {
  let h = hexOf.get(b);
  if (h === undefined) {
    h = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
    hexOf.set(b, h);
  }
  return h;
}

function openBatch(m: BatchMessage): ResultMessage {
  const index = new Int32Array(m.bytes, 0, m.count * INDEX_INTS);
  const spanStart = m.count * INDEX_INTS * 4;
  const span = new Uint8Array(m.bytes, spanStart);
  // Every payload is shorter than its sealed value, so the span's length bounds the payload area.
  const out = new ArrayBuffer(m.count * RESULT_ROW + (m.decode ? 0 : span.length));
  const outBytes = new Uint8Array(out);
  const view = new DataView(out);
  const strings: string[] = [];
  const interned = new Map<string, number>();
  const intern = (s: string): number => {
    let i = interned.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      interned.set(s, i);
    }
    return i;
  };
  let payloadAt = m.count * RESULT_ROW;
  const values: unknown[] | undefined = m.decode ? [] : undefined;
  for (let r = 0; r < m.count; r++) {
    const row = r * RESULT_ROW;
    const ks = index[r * INDEX_INTS]!;
    const kl = index[r * INDEX_INTS + 1]!;
    const value = span.subarray(
      index[r * INDEX_INTS + 2],
      index[r * INDEX_INTS + 2]! + index[r * INDEX_INTS + 3]!,
    );
    const ctx = {
      topic: TOPIC,
      partition: m.partition,
      key: kl < 0 ? null : span.subarray(ks, ks + kl),
    };
    let msg: OpenedMessage;
    try {
      const res = opener.open(value, ctx);
      if (res.kind !== 'delivered') {
        view.setUint8(
          row + ROW.status,
          res.kind === 'duplicate'
            ? STATUS_DUPLICATE
            : res.kind === 'throttled'
              ? STATUS_THROTTLED
              : STATUS_NOT_ADDRESSED,
        );
        continue;
      }
      msg = res.message;
    } catch (err) {
      if (!isEnvelopeError(err)) throw err;
      view.setUint8(row + ROW.status, STATUS_REFUSED);
      view.setUint16(row + ROW.contentType, intern(err.code), true);
      continue;
    }
    view.setUint8(row + ROW.status, STATUS_DELIVERED);
    view.setUint8(row + ROW.suite, msg.suite ?? 1);
    view.setUint16(row + ROW.identity, intern(msg.senderIdentity), true);
    view.setUint16(row + ROW.replayKey, intern(msg.replayKey), true);
    view.setUint16(row + ROW.contentType, intern(msg.contentType), true);
    view.setFloat64(row + ROW.seq, msg.seq, true);
    view.setFloat64(row + ROW.createdAtMs, msg.createdAtMs, true);
    view.setUint32(row + ROW.entityVersion, msg.entityVersion, true);
    view.setUint32(row + ROW.payloadOffset, payloadAt, true);
    view.setUint32(row + ROW.payloadLength, msg.payload.length, true);
    view.setUint16(row + ROW.senderKid, intern(hex(msg.senderKid)), true);
    view.setUint16(row + ROW.streamId, intern(hex(msg.streamId)), true);
    view.setUint16(row + ROW.sessionId, intern(hex(msg.sessionId)), true);
    view.setUint16(row + ROW.recipientCount, msg.recipientCount ?? 0, true);
    outBytes.set(msg.messageId, row + ROW.messageId);
    outBytes.set(msg.schemaFp, row + ROW.schemaFp);
    if (values !== undefined) {
      // SPEC §5 step 9: the fingerprint compared before the payload is decoded.
      if (!provider.equalConstantTime(fp, msg.schemaFp))
        throw new Error('bench: schema fingerprint');
      const frame = decodeConfluentFrame(msg.payload);
      if (frame.schemaId !== SCHEMA_ID) throw new Error('bench: schema id');
      values.push(codec.decode(frame.body));
      view.setUint32(row + ROW.payloadLength, 0, true);
    } else {
      outBytes.set(msg.payload, payloadAt);
      payloadAt += msg.payload.length;
    }
    provider.memzero(msg.payload);
  }
  return values === undefined
    ? { type: 'result', id: m.id, count: m.count, bytes: out, strings }
    : { type: 'result', id: m.id, count: m.count, bytes: out, strings, values };
}

port.on('message', (m: BatchMessage | ControlMessage) => {
  switch (m.type) {
    case 'batch': {
      const res = openBatch(m);
      port.postMessage(res, transfer ? [res.bytes] : []);
      // Cloned, not moved: our copy of the plaintexts is still here (the clone's is the receiver's).
      if (!transfer) provider.memzero(new Uint8Array(res.bytes));
      return;
    }
    case 'cpu':
      port.postMessage({ type: 'cpu', us: threadCpuUs() } satisfies ReplyMessage);
      return;
    case 'close':
      opener.close();
      provider.memzero(secretKey);
      port.postMessage({ type: 'closed' } satisfies ReplyMessage);
      port.close();
      return;
  }
});
port.postMessage({ type: 'ready' } satisfies ReplyMessage);
