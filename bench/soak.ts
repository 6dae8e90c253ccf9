/**
 * `npm run bench:soak` — memory over a long run: 1,000,000 messages (default) sealed and opened in
 * process (no broker), session mode, 1 recipient, sodium-native, the same 1 KiB Avro record as
 * bench/envelope.ts and bench/e2e.ts. Sessions rotate at the producer default (10,000 messages), so
 * the run also opens 100 session headers and keeps one replay window per stream. Reports RSS and the
 * JS heap after a full GC at the start, every 10 % and at the end; prints one JSON line last
 * (`SOAK_RESULT {...}`) which bench/e2e.ts reads.
 *
 * Options: --messages N (default 1,000,000).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import avro from 'avsc';
import { createCryptoProvider } from '../src/crypto/index.js';
import {
  createSealingSession,
  EnvelopeOpener,
  kid,
  ReplayWindow,
  type SealingSession,
  type SenderResolver,
} from '../src/envelope/index.js';
import { systemClock } from '../src/runtime/clock.js';
import { ORDER_SCHEMA } from './order-schema.js';

const argv = process.argv.slice(2);
const at = argv.indexOf('--messages');
const MESSAGES = at >= 0 ? Number(argv[at + 1]) : 1_000_000;
if (!Number.isInteger(MESSAGES) || MESSAGES < 1000)
  throw new Error('--messages must be an integer ≥ 1000');
const SESSION_MESSAGES = 10_000;

// A gc() handle without a command-line flag (as bench/crypto-primitives.ts does).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const orderType = avro.Type.forSchema(JSON.parse(ORDER_SCHEMA) as avro.Schema);
const order = {
  id: 'ord-000000001',
  customer: 'cust-4711',
  amountCents: 123_456,
  createdAt: 1_750_000_000_000,
  note: 'x'.repeat(977),
};
const frame = Buffer.alloc(4096);
frame[4] = 42;

const p = await createCryptoProvider('sodium-native');
const alice = { box: p.boxKeyPair(), sign: p.signKeyPair() };
const bob = p.boxKeyPair();
const aliceSignKid = kid(p, 'ed25519', alice.sign.publicKey);
const bobKid = kid(p, 'x25519', bob.publicKey);
const namespace = kid(p, 'ed25519', p.signKeyPair().publicKey);
const resolver: SenderResolver = {
  resolveSender: (k) =>
    Buffer.compare(k, aliceSignKid) === 0
      ? {
          identity: 'alice',
          signingPublicKey: alice.sign.publicKey,
          status: 'active',
          validFromMs: 0,
          validUntilMs: Number.MAX_SAFE_INTEGER,
          maySendOnTopic: true,
        }
      : undefined,
  mayReceive: () => true,
  epoch: () => 1,
};
const TOPIC = 'orders.v1';
const streamId = p.randomBytes(16);
const newSession = (): SealingSession =>
  createSealingSession({
    provider: p,
    clock: systemClock,
    envelopeSchemaId: 7,
    namespace,
    topic: TOPIC,
    senderSigningSecretKey: alice.sign.secretKey,
    recipients: [{ kid: bobKid, publicKey: bob.publicKey }],
    streamId,
    lifetimeMs: 3_600_000,
    maxMessages: SESSION_MESSAGES,
  });
const opener = new EnvelopeOpener({
  provider: p,
  clock: systemClock,
  resolver,
  policy: { skewMs: 300_000, horizonMs: 7 * 86_400_000, maxSessionLifetimeMs: 86_400_000 },
  limits: { envelopeSchemaId: 7, namespace, maxCiphertextBytes: 1 << 20 },
  recipientKeys: [{ kid: bobKid, publicKey: bob.publicKey, secretKey: bob.secretKey }],
});
const windows = new Map<string, ReplayWindow>();
const schemaFp = new Uint8Array(16).fill(3);
const key = new TextEncoder().encode('ord-000000001');
const ctx = { topic: TOPIC, partition: 0, key };

const mib = (b: number): number => Math.round((b / 1_048_576) * 10) / 10;
interface Sample {
  readonly messages: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
}
const samples: Sample[] = [];
function sample(messages: number): void {
  gc();
  const m = process.memoryUsage();
  samples.push({
    messages,
    rssMiB: mib(m.rss),
    heapUsedMiB: mib(m.heapUsed),
    externalMiB: mib(m.external + m.arrayBuffers),
  });
  console.log(
    `${messages.toLocaleString('en-US').padStart(10)} messages  rss ${mib(m.rss)} MiB  heap ${mib(m.heapUsed)} MiB  external ${mib(m.external + m.arrayBuffers)} MiB`,
  );
}

let session = newSession();
let sessions = 1;
const started = performance.now();
sample(0);
for (let i = 0; i < MESSAGES; i++) {
  if (!session.isUsable()) {
    session.close();
    session = newSession();
    sessions++;
  }
  order.createdAt = i;
  const end = orderType.encode(order, frame, 5);
  const sealed = session.seal({
    partition: 0,
    seq: i,
    key,
    schemaFp,
    contentType: 'application/vnd.order+avro',
    payload: frame.subarray(0, end),
  });
  const r = opener.open(sealed.value, ctx, {
    window: (k) => {
      let w = windows.get(k);
      if (w === undefined) {
        w = new ReplayWindow();
        windows.set(k, w);
      }
      return w;
    },
  });
  if (r.kind !== 'delivered') throw new Error(`soak: message ${i} was ${r.kind}`);
  const m = r.message;
  const value = orderType.fromBuffer(
    Buffer.from(m.payload.buffer, m.payload.byteOffset + 5, m.payload.length - 5),
  ) as { createdAt: number };
  if (value.createdAt !== i) throw new Error('soak: wrong payload');
  windows.get(m.replayKey)?.mark(m.seq, 0);
  if ((i + 1) % (MESSAGES / 10) === 0) sample(i + 1);
}
session.close();
opener.close();
const seconds = (performance.now() - started) / 1000;
const first = samples[0]!;
const last = samples.at(-1)!;
const result = {
  messages: MESSAGES,
  sessions,
  seconds: Math.round(seconds * 10) / 10,
  sealOpenPerSecond: Math.round(MESSAGES / seconds),
  rssStartMiB: first.rssMiB,
  rssEndMiB: last.rssMiB,
  rssMaxMiB: Math.max(...samples.map((s) => s.rssMiB)),
  heapStartMiB: first.heapUsedMiB,
  heapEndMiB: last.heapUsedMiB,
  samples,
};
console.log(
  `${sessions} sessions, ${result.sealOpenPerSecond.toLocaleString('en-US')} seal+open/s, ${result.seconds} s`,
);
console.log(`SOAK_RESULT ${JSON.stringify(result)}`);
