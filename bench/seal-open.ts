/**
 * Seal and open per core, in process (no broker), for bench/e2e.ts: the 1,019-byte record of the
 * broker runs (Avro encode included in seal, decode in open — as the producer and consumer do), both
 * crypto providers, session mode with 1 and 3 recipients and one-message signed sessions. A shorter
 * cousin of bench/envelope.ts (same envelope API, same kind of setup) that fits the 15-minute budget
 * of `npm run bench`; bench/envelope.ts remains the reference (more runs, allocation split).
 *
 * ops/s: per CPU-second of this process, median of 5 runs of 200 ms CPU per case after a warm-up, the
 * cases interleaved round by round. Bytes allocated per message: V8 heap + external
 * memory growth over up to 2,000 messages (~0.2 s) after two full GCs and a pause, in a run without a
 * collection (GCProfiler); "~" when none of 10 tries was collection-free. Start with --max-semi-space-size=64 (e2e.ts does).
 * Prints a table and a last line `SEAL_OPEN_RESULT [...]` (JSON) that e2e.ts reads.
 */
import { setFlagsFromString } from 'node:v8';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import avro from 'avsc';
import { createCryptoProvider } from '../src/crypto/index.js';
import type { CryptoProvider, CryptoProviderName } from '../src/crypto/provider.js';
import {
  createSealingSession,
  EnvelopeOpener,
  kid,
  ReplayWindow,
  type SealingSession,
  type SenderResolver,
} from '../src/envelope/index.js';
import { systemClock } from '../src/runtime/clock.js';
import { order, ORDER_SCHEMA } from './e2e-clients.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const orderType = avro.Type.forSchema(JSON.parse(ORDER_SCHEMA) as avro.Schema);
const value = order(1, 1_750_000_000_000_000);
const frame = Buffer.alloc(4096);
frame[4] = 42;
const encode = (): Uint8Array => frame.subarray(0, orderType.encode(value, frame, 5));
const RECORD_BYTES = encode().length;
const TOPIC = 'orders.v1';
const schemaFp = new Uint8Array(16).fill(3);
const key = new TextEncoder().encode(value.id);
const ctx = { topic: TOPIC, partition: 0, key };

/** One measured case. */
export interface SealOpenRow {
  readonly provider: CryptoProviderName;
  readonly mode: 'session, 1 recipient' | 'session, 3 recipients' | 'key per message, signed';
  readonly op: 'seal' | 'open';
  readonly opsPerSecond: number;
  readonly bytesPerMessage: number;
  readonly bytesExact: boolean;
}

function setup(p: CryptoProvider) {
  const ids = ['alice', 'bob', 'carol', 'dave'].map(() => ({
    box: p.boxKeyPair(),
    sign: p.signKeyPair(),
  }));
  const alice = ids[0]!;
  const aliceSignKid = kid(p, 'ed25519', alice.sign.publicKey);
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
  const recipients = ids
    .slice(1)
    .map((r) => ({ kid: kid(p, 'x25519', r.box.publicKey), publicKey: r.box.publicKey }));
  const bob = ids[1]!;
  const newSession = (n: number, maxMessages: number, sign: boolean): SealingSession =>
    createSealingSession({
      provider: p,
      clock: systemClock,
      envelopeSchemaId: 7,
      namespace,
      topic: TOPIC,
      senderSigningSecretKey: alice.sign.secretKey,
      recipients: recipients.slice(0, n),
      streamId: p.randomBytes(16),
      lifetimeMs: 3_600_000,
      maxMessages,
      signEveryMessage: sign,
    });
  const newOpener = (): EnvelopeOpener =>
    new EnvelopeOpener({
      provider: p,
      clock: systemClock,
      resolver,
      policy: { skewMs: 300_000, horizonMs: 7 * 86_400_000, maxSessionLifetimeMs: 86_400_000 },
      limits: { envelopeSchemaId: 7, namespace, maxCiphertextBytes: 1 << 20 },
      recipientKeys: [
        { kid: recipients[0]!.kid, publicKey: bob.box.publicKey, secretKey: bob.box.secretKey },
      ],
    });
  return { newSession, newOpener };
}

function cases(
  p: CryptoProvider,
): { mode: SealOpenRow['mode']; op: SealOpenRow['op']; run: (i: number) => void }[] {
  const { newSession, newOpener } = setup(p);
  const out: { mode: SealOpenRow['mode']; op: SealOpenRow['op']; run: (i: number) => void }[] = [];
  const decode = (payload: Uint8Array): void => {
    orderType.fromBuffer(Buffer.from(payload.buffer, payload.byteOffset + 5, payload.length - 5));
  };
  for (const [n, mode] of [
    [1, 'session, 1 recipient'],
    [3, 'session, 3 recipients'],
  ] as const) {
    // Rotation at the producer default (10,000 messages), as in the broker runs.
    let s = newSession(n, 10_000, false);
    let seq = 0;
    out.push({
      mode,
      op: 'seal',
      run: () => {
        if (!s.isUsable()) {
          s.close();
          s = newSession(n, 10_000, false);
        }
        s.seal({
          partition: 0,
          seq: seq++,
          key,
          schemaFp,
          contentType: 'application/vnd.order+avro',
          payload: encode(),
        });
      },
    });
    const source = newSession(n, 2 ** 31, false);
    const pool = Array.from(
      { length: 4096 },
      (_, i) =>
        source.seal({
          partition: 0,
          seq: i,
          key,
          schemaFp,
          contentType: 'application/vnd.order+avro',
          payload: encode(),
        }).value,
    );
    source.close();
    const opener = newOpener();
    const window = new ReplayWindow();
    out.push({
      mode,
      op: 'open',
      run: (i) => {
        const r = opener.open(pool[i % pool.length]!, ctx, { window: () => window });
        if (r.kind !== 'delivered') throw new Error(`seal-open: ${r.kind}`);
        decode(r.message.payload);
      },
    });
  }
  out.push({
    mode: 'key per message, signed',
    op: 'seal',
    run: (i) => {
      const one = newSession(1, 1, true);
      one.seal({
        partition: 0,
        seq: i,
        key,
        schemaFp,
        contentType: 'application/vnd.order+avro',
        payload: encode(),
      });
      one.close();
    },
  });
  const singles = Array.from({ length: 512 }, (_, i) => {
    const one = newSession(1, 1, true);
    const v = one.seal({
      partition: 0,
      seq: i,
      key,
      schemaFp,
      contentType: 'application/vnd.order+avro',
      payload: encode(),
    }).value;
    one.close();
    return v;
  });
  const singleOpener = newOpener();
  out.push({
    mode: 'key per message, signed',
    op: 'open',
    run: (i) => {
      const r = singleOpener.open(singles[i % singles.length]!, ctx);
      if (r.kind !== 'delivered') throw new Error(`seal-open: ${r.kind}`);
      decode(r.message.payload);
    },
  });
  return out;
}

const ROUNDS = 5;
const RUN_MS = 200;

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * One run of `run` for RUN_MS of this process's CPU time; ops per CPU-second (as bench/envelope.ts
 * counts: time the machine's other load takes from us is not counted against us). `start` keeps
 * sequence numbers growing across runs.
 */
function timedRun(run: (i: number) => void, start: number): { ops: number; next: number } {
  let i = start;
  const t0 = cpuMs();
  let n = 0;
  let t = t0;
  while (t - t0 < RUN_MS) {
    for (let k = 0; k < 16; k++) run(i++);
    n += 16;
    t = cpuMs();
  }
  return { ops: n / ((t - t0) / 1000), next: i };
}

async function bytesPerMessage(
  run: (i: number) => void,
  opsPerSec: number,
): Promise<{ bytes: number; exact: boolean }> {
  // About 0.2 s of work per try (2,000 messages at most).
  const N = Math.max(100, Math.min(2000, Math.round(opsPerSec / 5)));
  const seen: number[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    // Two full GCs and a pause, so the sweeping of freed ArrayBuffers has finished before s0.
    gc();
    gc();
    await new Promise((r) => setTimeout(r, 20));
    const s0 = v8.getHeapStatistics();
    const prof = new v8.GCProfiler();
    prof.start();
    for (let i = 0; i < N; i++) run(i);
    const r = prof.stop();
    const s1 = v8.getHeapStatistics();
    const bytes =
      (s1.used_heap_size - s0.used_heap_size + (s1.external_memory - s0.external_memory)) / N;
    if (r.statistics.length === 0 && bytes >= 0) return { bytes, exact: true };
    if (bytes > 0) seen.push(bytes);
  }
  seen.sort((a, b) => a - b);
  return { bytes: seen[Math.floor(seen.length / 2)] ?? Number.NaN, exact: false };
}

// Every case, interleaved round by round (machine drift hits all alike); median of the rounds.
const all: {
  provider: CryptoProviderName;
  mode: SealOpenRow['mode'];
  op: SealOpenRow['op'];
  run: (i: number) => void;
  runs: number[];
  next: number;
}[] = [];
for (const name of ['sodium-native', 'libsodium-wrappers'] as const) {
  const p = await createCryptoProvider(name);
  for (const c of cases(p)) {
    const warm = timedRun(c.run, 0);
    all.push({ provider: name, ...c, runs: [], next: warm.next });
  }
}
for (let r = 0; r < ROUNDS; r++) {
  for (const c of all) {
    const t = timedRun(c.run, c.next);
    c.runs.push(t.ops);
    c.next = t.next;
  }
}
const rows: SealOpenRow[] = [];
for (const c of all) {
  const ops = [...c.runs].sort((a, b) => a - b)[Math.floor(c.runs.length / 2)]!;
  const alloc = await bytesPerMessage(c.run, ops);
  rows.push({
    provider: c.provider,
    mode: c.mode,
    op: c.op,
    opsPerSecond: Math.round(ops),
    bytesPerMessage: Math.round(alloc.bytes),
    bytesExact: alloc.exact,
  });
  console.log(
    `${c.provider.padEnd(19)} ${c.mode.padEnd(25)} ${c.op.padEnd(5)} ${Math.round(ops).toLocaleString('en-US').padStart(8)} ops/s  ${alloc.exact ? '' : '~'}${Math.round(alloc.bytes)} B/msg`,
  );
}
console.log(`record ${RECORD_BYTES} bytes`);
console.log(`SEAL_OPEN_RESULT ${JSON.stringify(rows)}`);
