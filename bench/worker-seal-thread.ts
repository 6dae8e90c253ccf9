/**
 * A worker thread of bench/worker-seal.ts: holds one sealing session (its own stream; session mode,
 * suite 1, docs/SPEC.md §4) and the sender's signing key to start it, seals the payloads posted to it
 * (with the seqs the main thread assigned) and posts back one buffer of result rows and sealed values.
 * The posted payloads are plaintext: zeroed here once sealed. On `close` it closes the session and
 * zeroes its copy of the signing key.
 *
 * workerData: { setup: SealerPublicSetup, signingKey: Uint8Array (over a transferred ArrayBuffer),
 * transfer: boolean }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createCryptoProvider } from '../src/crypto/index.js';
import { createSealingSession } from '../src/envelope/index.js';
import { systemClock } from '../src/runtime/clock.js';
import { CONTENT_TYPE, ENVELOPE_SCHEMA_ID, TOPIC } from './worker-open-setup.js';
import { type ControlMessage, type ReplyMessage, threadCpuUs } from './worker-pool.js';
import {
  SEAL_INDEX_INTS,
  SEAL_ROW,
  type SealBatchMessage,
  type SealerPublicSetup,
  type SealResultMessage,
} from './worker-seal-setup.js';

const port = parentPort;
if (port === null) throw new Error('worker-seal-thread.ts runs as a worker thread');
const data = workerData as {
  readonly setup: SealerPublicSetup;
  readonly signingKey: Uint8Array;
  readonly transfer: boolean;
};
const provider = await createCryptoProvider('sodium-native');
const signingKey = data.signingKey;
const setup = data.setup;
const session = createSealingSession({
  provider,
  clock: systemClock,
  suite: 1,
  envelopeSchemaId: ENVELOPE_SCHEMA_ID,
  namespace: setup.namespace,
  topic: TOPIC,
  senderSigningSecretKey: signingKey,
  recipients: [{ kid: setup.recipientKid, publicKey: setup.recipientPublicKey }],
  streamId: setup.streamId,
  lifetimeMs: 3_600_000,
  maxMessages: 2 ** 31,
});

function sealBatch(m: SealBatchMessage): SealResultMessage {
  const index = new Int32Array(m.bytes, 0, m.count * SEAL_INDEX_INTS);
  const span = new Uint8Array(m.bytes, m.count * SEAL_INDEX_INTS * 4);
  // Sealed values are at most the padded payload plus the header and body framing: 2 KiB each here.
  const out = new ArrayBuffer(m.count * (SEAL_ROW + 2048));
  const outBytes = new Uint8Array(out);
  const view = new DataView(out);
  let at = m.count * SEAL_ROW;
  for (let r = 0; r < m.count; r++) {
    const i = r * SEAL_INDEX_INTS;
    const ks = index[i]!;
    const ps = index[i + 2]!;
    const payload = span.subarray(ps, ps + index[i + 3]!);
    const sealed = session.seal({
      partition: m.partition,
      seq: index[i + 4]!,
      key: span.subarray(ks, ks + index[i + 1]!),
      schemaFp: setup.schemaFp,
      contentType: CONTENT_TYPE,
      payload,
    });
    const row = r * SEAL_ROW;
    view.setUint32(row, at, true);
    view.setUint32(row + 4, sealed.value.length, true);
    view.setFloat64(row + 8, sealed.createdAtMs, true);
    outBytes.set(sealed.messageId, row + 16);
    outBytes.set(sealed.value, at);
    at += sealed.value.length;
  }
  provider.memzero(span);
  return { type: 'result', id: m.id, count: m.count, bytes: out };
}

port.on('message', (m: SealBatchMessage | ControlMessage) => {
  switch (m.type) {
    case 'seal': {
      const res = sealBatch(m);
      port.postMessage(res, data.transfer ? [res.bytes] : []);
      return;
    }
    case 'cpu':
      port.postMessage({ type: 'cpu', us: threadCpuUs() } satisfies ReplyMessage);
      return;
    case 'close':
      session.close();
      provider.memzero(signingKey);
      port.postMessage({ type: 'closed' } satisfies ReplyMessage);
      port.close();
      return;
  }
});
port.postMessage({ type: 'ready' } satisfies ReplyMessage);
