/**
 * `npm run bench:envelope` — seal and open of a 1 KiB Avro record (avsc encode/decode included), 1 and
 * 3 recipients, session mode and one-message signed sessions, suite 1 (X25519 sealed boxes) and suite
 * 2 (X-Wing slots, docs/SPEC.md §2.2), each crypto provider, with the record's size. Reports ops per
 * CPU-second of one core (median of 5 runs), the same for the bare libsodium work (the "floor"), and
 * bytes allocated per message, and writes the table into
 * docs/PERFORMANCE.md (section "Envelope (in process)").
 *
 * Allocation is measured in a child process started with --expose-gc and a large young generation
 * (--max-semi-space-size): after two full GCs and a pause (so ArrayBuffer sweeping has finished), a
 * loop of 1,000 messages runs without any garbage collection, and bytes = Δ(V8 used heap) + Δ(external
 * ArrayBuffer memory) over the loop / 1,000. Runs during which a GC happened are discarded (GCProfiler
 * tells); the median of 3 clean runs is reported, "~" if fewer than 3 were obtained in 30 tries.
 * Reported twice: for the whole case (Avro included) and for the envelope operation alone.
 *
 * Then the cost of repeating the session header in every record (docs/PQ-NOTES.md): bytes per record
 * as written and inside a compressed batch of 100 records (as a Kafka producer batch), against the
 * same batch with the header replaced by a 32-byte reference.
 *
 * Options: --runs N (default 5), --seconds S per run (default 1), --no-write, --suite 1|2 (default
 * both), --header-only (only the header-reference table).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import zlib from 'node:zlib';
import avro from 'avsc';
import { createCryptoProvider } from '../src/crypto/index.js';
import type { CryptoProvider, CryptoProviderName } from '../src/crypto/provider.js';
import {
  createSealingSession,
  EnvelopeOpener,
  kid,
  ReplayWindow,
  type SealingSession,
  type SenderRecord,
  type SenderResolver,
  XWING_BOX_BYTES,
} from '../src/envelope/index.js';
import { systemClock } from '../src/runtime/clock.js';
import { messageFloor } from './envelope-floor.js';
import { ORDER_SCHEMA } from './order-schema.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const RUNS = Number(opt('runs', '5'));
const SECONDS = Number(opt('seconds', '1'));
const WRITE = !argv.includes('--no-write');
const CHILD = argv.includes('--child');
/** Only the header-reference table (no ops/s rows, nothing written). */
const HEADER_ONLY = argv.includes('--header-only');
const SUITES =
  opt('suite', 'both') === 'both' ? ([1, 2] as const) : ([Number(opt('suite', '1'))] as (1 | 2)[]);

// Re-exec with a large young generation (see the header comment), unless we are that child.
if (!CHILD) {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--max-semi-space-size=64', '--import', 'tsx', self, ...argv, '--child'],
    {
      stdio: 'inherit',
    },
  );
  process.exit(r.status ?? 1);
}

const TOPIC = 'orders.v1';
const SCHEMA_ID = 42;
const ENVELOPE_SCHEMA_ID = 7;
const ENVELOPE_SCHEMA_ID_SUITE2 = 8;
const orderType = avro.Type.forSchema(JSON.parse(ORDER_SCHEMA) as avro.Schema);
const order = {
  id: 'ord-000000001',
  customer: 'cust-4711',
  amountCents: 123_456,
  createdAt: 1_750_000_000_000,
  note: 'x'.repeat(977),
};

/**
 * Avro in Confluent framing (0x00 ‖ u32 schemaId ‖ body), encoded by avsc into a reused buffer, as a
 * producer would; seal copies the payload into its own scratch, so reuse is safe.
 */
const recordBuffer = Buffer.alloc(4096);
recordBuffer[4] = SCHEMA_ID;
function encodeRecord(): Uint8Array {
  const end = orderType.encode(order, recordBuffer, 5);
  if (end < 0) throw new Error('record buffer too small');
  return recordBuffer.subarray(0, end);
}
const RECORD_BYTES = encodeRecord().length;
const fixedRecord = encodeRecord().slice();

interface Case {
  readonly name: string;
  readonly provider: CryptoProviderName;
  readonly suite: 1 | 2;
  readonly recipients: number;
  /** Size of one record value of this case (header included). */
  readonly recordBytes: number;
  readonly mode: 'session' | 'one-message signed';
  readonly op: 'seal' | 'open';
  readonly run: (i: number) => void;
  /** The same envelope operation without Avro encode/decode (for the allocation split). */
  readonly bare: (i: number) => void;
  /**
   * The bare libsodium work the operation cannot avoid (AEAD, digest, MACs, key binding, and for
   * one-message sessions the sealed boxes and signatures), run in the same process at the same time:
   * envelope ops/s ÷ floor ops/s is the share the format and our code leave, independent of load.
   */
  readonly floor: (i: number) => void;
}

function setup(p: CryptoProvider) {
  const names = ['alice', 'bob', 'carol', 'dave'];
  const ids = new Map(
    names.map((n) => {
      const box = p.boxKeyPair();
      const sign = p.signKeyPair();
      const xwing = p.xwingKeyPairFromSeed(p.randomBytes(32));
      return [
        n,
        {
          box,
          sign,
          xwing,
          boxKid: kid(p, 'x25519', box.publicKey),
          xwingKid: kid(p, 'xwing', xwing.publicKey),
          signKid: kid(p, 'ed25519', sign.publicKey),
        },
      ] as const;
    }),
  );
  const alice = ids.get('alice')!;
  const namespace = kid(p, 'ed25519', p.signKeyPair().publicKey);
  const resolver: SenderResolver = {
    resolveSender: (k): SenderRecord | undefined =>
      Buffer.compare(k, alice.signKid) === 0
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
  const newSession = (
    n: number,
    maxMessages: number,
    sign: boolean,
    suite: 1 | 2,
  ): SealingSession =>
    createSealingSession({
      provider: p,
      clock: systemClock,
      suite,
      envelopeSchemaId: suite === 2 ? ENVELOPE_SCHEMA_ID_SUITE2 : ENVELOPE_SCHEMA_ID,
      namespace,
      topic: TOPIC,
      senderSigningSecretKey: alice.sign.secretKey,
      recipients: ['bob', 'carol', 'dave'].slice(0, n).map((r) => {
        const id = ids.get(r)!;
        return suite === 2
          ? { kid: id.xwingKid, publicKey: id.xwing.publicKey }
          : { kid: id.boxKid, publicKey: id.box.publicKey };
      }),
      streamId: p.randomBytes(16),
      lifetimeMs: 3_600_000,
      maxMessages,
      signEveryMessage: sign,
    });
  const bob = ids.get('bob')!;
  const newOpener = () =>
    new EnvelopeOpener({
      provider: p,
      clock: systemClock,
      resolver,
      policy: { skewMs: 300_000, horizonMs: 7 * 86_400_000, maxSessionLifetimeMs: 86_400_000 },
      limits: {
        envelopeSchemaId: ENVELOPE_SCHEMA_ID,
        suite2EnvelopeSchemaId: ENVELOPE_SCHEMA_ID_SUITE2,
        namespace,
        maxCiphertextBytes: 1 << 20,
      },
      recipientKeys: [
        { kid: bob.boxKid, publicKey: bob.box.publicKey, secretKey: bob.box.secretKey },
        {
          kid: bob.xwingKid,
          publicKey: bob.xwing.publicKey,
          secretKey: bob.xwing.secretKey,
          suite: 2,
        },
      ],
    });
  return { newSession, newOpener, limits: { namespace } };
}

const schemaFp = new Uint8Array(16).fill(3);
const ctx = { topic: TOPIC, partition: 0, key: new TextEncoder().encode('ord-000000001') };

/** Primitive-only work per message (see Case.floor); suite 2 slots are X-Wing + a 96-byte AEAD. */
function floors(p: CryptoProvider, n: number, suite: 1 | 2) {
  const message = messageFloor(p, n);
  const keyIn = p.randomBytes(36);
  const kb = new Uint8Array(32);
  const box = p.boxKeyPair();
  const signer = p.signKeyPair();
  const boxIn = p.randomBytes(80);
  const sealed = p.boxSeal(boxIn, box.publicKey);
  const xw = p.xwingKeyPairFromSeed(p.randomBytes(32));
  const xwKey = p.xwingDecapsulationKey(xw.secretKey);
  const xwCt = p.xwingEncapsulate(xw.publicKey).ciphertext;
  const wrapped = new Uint8Array(96);
  const wrapKey = p.randomBytes(32);
  const zero = new Uint8Array(24);
  p.aeadEncrypt(wrapped, boxIn, null, zero, wrapKey);
  const wrapOut = new Uint8Array(80);
  const slotSeal = () => {
    if (suite === 1) {
      p.boxSeal(boxIn, box.publicKey);
      return;
    }
    const ss = p.xwingEncapsulate(xw.publicKey).sharedSecret;
    p.hash(kb, keyIn, ss);
    p.aeadEncrypt(wrapped, boxIn, null, zero, wrapKey);
  };
  const slotOpen = () => {
    if (suite === 1) {
      if (p.boxSealOpen(sealed, box.publicKey, box.secretKey) === null) throw new Error('floor');
      return;
    }
    const ss = xwKey.decapsulate(xwCt);
    p.hash(kb, keyIn, ss);
    if (!p.aeadDecrypt(wrapOut, wrapped, null, zero, wrapKey)) throw new Error('floor');
  };
  const tbs = p.randomBytes(200 + n * (suite === 2 ? 16 + XWING_BOX_BYTES : 144));
  const msgTbs = p.randomBytes(120);
  const tbsSig = p.signDetached(tbs, signer.secretKey);
  const msgSig = p.signDetached(msgTbs, signer.secretKey);
  const messageSeal = message.seal;
  const messageOpen = message.open;
  return {
    sessionSeal: messageSeal,
    sessionOpen: messageOpen,
    oneSeal: () => {
      for (let i = 0; i < n; i++) slotSeal();
      p.signDetached(tbs, signer.secretKey);
      p.signDetached(msgTbs, signer.secretKey);
      messageSeal();
    },
    oneOpen: () => {
      slotOpen();
      if (
        !p.verifyDetached(tbsSig, tbs, signer.publicKey) ||
        !p.verifyDetached(msgSig, msgTbs, signer.publicKey)
      )
        throw new Error('floor');
      messageOpen();
    },
  };
}

function makeCases(name: CryptoProviderName, p: CryptoProvider, suite: 1 | 2): Case[] {
  const { newSession: session, newOpener } = setup(p);
  const newSession = (n: number, maxMessages: number, sign: boolean) =>
    session(n, maxMessages, sign, suite);
  const cases: Case[] = [];
  for (const n of [1, 3]) {
    const floor = floors(p, n, suite);
    const sampleBytes = (sign: boolean) => {
      const one = newSession(n, 1, sign);
      const v = one.seal({
        partition: 0,
        seq: 0,
        key: ctx.key,
        schemaFp,
        contentType: 'application/vnd.order+avro',
        payload: fixedRecord,
      }).value;
      one.close();
      return v.length;
    };
    // Session mode: one long session, a window check per open, as SealedConsumer would do.
    let s = newSession(n, 2 ** 31, false);
    let seq = 0;
    cases.push({
      name: `${name} · suite ${suite} · ${n} rcpt · session · seal`,
      provider: name,
      suite,
      recipients: n,
      recordBytes: sampleBytes(false),
      mode: 'session',
      op: 'seal',
      run: () => {
        if (s.sent >= s.maxMessages - 1) s = newSession(n, 2 ** 31, false);
        s.seal({
          partition: 0,
          seq: seq++,
          key: ctx.key,
          schemaFp,
          contentType: 'application/vnd.order+avro',
          payload: encodeRecord(),
        });
      },
      bare: () => {
        s.seal({
          partition: 0,
          seq: seq++,
          key: ctx.key,
          schemaFp,
          contentType: 'application/vnd.order+avro',
          payload: fixedRecord,
        });
      },
      floor: floor.sessionSeal,
    });
    const pool = 4096;
    const sessionForOpen = newSession(n, 2 ** 31, false);
    const sealed = Array.from(
      { length: pool },
      (_, i) =>
        sessionForOpen.seal({
          partition: 0,
          seq: i,
          key: ctx.key,
          schemaFp,
          contentType: 'application/vnd.order+avro',
          payload: encodeRecord(),
        }).value,
    );
    sessionForOpen.close();
    const opener = newOpener();
    const window = new ReplayWindow();
    cases.push({
      name: `${name} · suite ${suite} · ${n} rcpt · session · open`,
      provider: name,
      suite,
      recipients: n,
      recordBytes: sealed[0]!.length,
      mode: 'session',
      op: 'open',
      run: (i) => {
        const r = opener.open(sealed[i % pool]!, ctx, { window: () => window });
        if (r.kind !== 'delivered') throw new Error(`bench: ${r.kind}`);
        orderType.fromBuffer(
          Buffer.from(
            r.message.payload.buffer,
            r.message.payload.byteOffset + 5,
            r.message.payload.length - 5,
          ),
        );
      },
      bare: (i) => {
        if (opener.open(sealed[i % pool]!, ctx, { window: () => window }).kind !== 'delivered')
          throw new Error('bench');
      },
      floor: floor.sessionOpen,
    });
    // One-message sessions, signed: the public-key work on every message.
    cases.push({
      name: `${name} · suite ${suite} · ${n} rcpt · one-message signed · seal`,
      provider: name,
      suite,
      recipients: n,
      recordBytes: sampleBytes(true),
      mode: 'one-message signed',
      op: 'seal',
      run: (i) => {
        const one = newSession(n, 1, true);
        one.seal({
          partition: 0,
          seq: i,
          key: ctx.key,
          schemaFp,
          contentType: 'application/vnd.order+avro',
          payload: encodeRecord(),
        });
        one.close();
      },
      bare: (i) => {
        const one = newSession(n, 1, true);
        one.seal({
          partition: 0,
          seq: i,
          key: ctx.key,
          schemaFp,
          contentType: 'application/vnd.order+avro',
          payload: fixedRecord,
        });
        one.close();
      },
      floor: floor.oneSeal,
    });
    const singles = Array.from({ length: 1024 }, (_, i) => {
      const one = newSession(n, 1, true);
      const v = one.seal({
        partition: 0,
        seq: i,
        key: ctx.key,
        schemaFp,
        contentType: 'application/vnd.order+avro',
        payload: encodeRecord(),
      }).value;
      one.close();
      return v;
    });
    const singleOpener = newOpener();
    cases.push({
      name: `${name} · suite ${suite} · ${n} rcpt · one-message signed · open`,
      provider: name,
      suite,
      recipients: n,
      recordBytes: singles[0]!.length,
      mode: 'one-message signed',
      op: 'open',
      run: (i) => {
        const r = singleOpener.open(singles[i % singles.length]!, ctx);
        if (r.kind !== 'delivered') throw new Error(`bench: ${r.kind}`);
        orderType.fromBuffer(
          Buffer.from(
            r.message.payload.buffer,
            r.message.payload.byteOffset + 5,
            r.message.payload.length - 5,
          ),
        );
      },
      bare: (i) => {
        if (singleOpener.open(singles[i % singles.length]!, ctx).kind !== 'delivered')
          throw new Error('bench');
      },
      floor: floor.oneOpen,
    });
  }
  return cases;
}

/** CPU microseconds of this process (user + system): immune to time spent descheduled. */
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * Operations per CPU-second of this process — "per core" even on a loaded machine, where wall-clock
 * rates mostly measure the neighbours (GC threads count: their work is ours).
 */
function opsPerSecond(run: (i: number) => void): number {
  let i = 0;
  for (; i < 200; i++) run(i); // warm up
  const start = cpuMicros();
  const budget = SECONDS * 1e6;
  let n = 0;
  while (cpuMicros() - start < budget) {
    for (let k = 0; k < 32; k++) run(i++);
    n += 32;
  }
  return n / ((cpuMicros() - start) / 1e6);
}

const forceGc = (globalThis as { gc?: () => void }).gc;
const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

/** Bytes allocated per message in a GC-free loop (see the header comment). */
async function bytesPerMessage(
  fn: (i: number) => void,
  N: number,
): Promise<{ bytes: number; exact: boolean }> {
  const clean: number[] = [];
  const dirty: number[] = [];
  for (let attempt = 0; attempt < 30 && clean.length < 3; attempt++) {
    for (let i = 0; i < 100; i++) fn(i);
    forceGc?.();
    forceGc?.();
    await pause();
    const s0 = v8.getHeapStatistics();
    const prof = new v8.GCProfiler();
    prof.start();
    for (let i = 0; i < N; i++) fn(i);
    const r = prof.stop();
    const s1 = v8.getHeapStatistics();
    const bytes =
      (s1.used_heap_size - s0.used_heap_size + (s1.external_memory - s0.external_memory)) / N;
    (r.statistics.length === 0 ? clean : dirty).push(bytes);
  }
  if (clean.length === 3) return { bytes: median(clean), exact: true };
  const all = [...clean, ...dirty];
  return { bytes: all.length > 0 ? median(all) : Number.NaN, exact: false };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Alloc = { bytes: number; exact: boolean };
const fmtAlloc = (a: Alloc) => `${a.exact ? '' : '~'}${Math.round(a.bytes).toLocaleString('en')}`;
const rows: { c: Case; ops: number; floorOps: number; alloc: Alloc; bareAlloc: Alloc }[] = [];
const providers = new Map<CryptoProviderName, CryptoProvider>();
for (const name of ['sodium-native', 'libsodium-wrappers'] as const)
  providers.set(name, await createCryptoProvider(name));
for (const [name, p] of providers) {
  for (const c of HEADER_ONLY ? [] : SUITES.flatMap((suite) => makeCases(name, p, suite))) {
    const runs: number[] = [];
    const floorRuns: number[] = [];
    // Interleaved, so the envelope and its floor see the same machine load.
    for (let r = 0; r < RUNS; r++) {
      runs.push(opsPerSecond(c.run));
      floorRuns.push(opsPerSecond(c.floor));
    }
    // Fewer messages for one-message sessions (~10 KB each), so the loop stays GC-free.
    const allocN = c.mode === 'session' ? 1000 : 200;
    const alloc = await bytesPerMessage(c.run, allocN);
    const bareAlloc = await bytesPerMessage(c.bare, allocN);
    const ops = median(runs);
    const floorOps = median(floorRuns);
    rows.push({ c, ops, floorOps, alloc, bareAlloc });
    console.log(
      `${c.name.padEnd(62)} ${Math.round(ops).toLocaleString('en').padStart(9)} ops/s (floor ${Math.round(floorOps).toLocaleString('en')}, ${Math.round((100 * ops) / floorOps)}%)   ${fmtAlloc(alloc)} B/msg (envelope alone ${fmtAlloc(bareAlloc)})`,
    );
  }
}

/**
 * What a reference to an already-sent header would save (docs/PQ-NOTES.md): 100 records of one
 * session on one partition, as a producer batch. "reference" replaces every header after the first
 * by a 33-byte stand-in (a marker byte and the 32-byte hh). Sizes raw and compressed as Kafka would
 * compress the batch (gzip everywhere; zstd where node:zlib has it). CPU: the per-record work that
 * the repeated header causes today — copying it into the record on seal, comparing it with the last
 * header on open — timed alone.
 */
function headerReferenceCost(p: CryptoProvider) {
  const { newSession } = setup(p);
  const BATCH = 100;
  const out: string[] = [];
  const zstd = (zlib as unknown as { zstdCompressSync?: (b: Uint8Array) => Buffer })
    .zstdCompressSync;
  for (const suite of SUITES) {
    for (const n of [1, 3]) {
      const s = newSession(n, BATCH, false, suite);
      const records = Array.from(
        { length: BATCH },
        (_, seq) =>
          s.seal({
            partition: 0,
            seq,
            key: ctx.key,
            schemaFp,
            contentType: 'application/vnd.order+avro',
            payload: encodeRecord(),
          }).value,
      );
      const headerBytes = s.headerBytes;
      s.close();
      const h = headerBytes.length;
      const referenced = records.map((r, i) =>
        i === 0 ? r : Buffer.concat([r.subarray(0, 5), new Uint8Array(33), r.subarray(5 + h)]),
      );
      const full = Buffer.concat(records);
      const ref = Buffer.concat(referenced);
      const per = (b: Uint8Array) => Math.round(b.length / BATCH);
      const gz = (b: Buffer) => per(zlib.gzipSync(b));
      const zs = (b: Buffer) => (zstd === undefined ? Number.NaN : per(zstd(b)));
      // Per-record header work today: copy on seal, compare on open (EnvelopeDecoder, opener).
      const dst = new Uint8Array(h);
      const copy = Buffer.from(headerBytes);
      const cpu = opsPerSecond(() => {
        dst.set(headerBytes);
        if (Buffer.compare(copy, headerBytes) !== 0) throw new Error('bench');
      });
      // Batch compression CPU (producer deflate + consumer inflate), µs per record.
      const gzFull = zlib.gzipSync(full);
      const gzRef = zlib.gzipSync(ref);
      const usPerRecord = (fn: () => void) => 1e6 / (opsPerSecond(fn) * BATCH);
      const deflateFull = usPerRecord(() => zlib.gzipSync(full));
      const deflateRef = usPerRecord(() => zlib.gzipSync(ref));
      const inflateFull = usPerRecord(() => zlib.gunzipSync(gzFull));
      const inflateRef = usPerRecord(() => zlib.gunzipSync(gzRef));
      const fmt = (x: number) => (Number.isNaN(x) ? '—' : x.toLocaleString('en'));
      const us = (x: number) => x.toFixed(1);
      out.push(
        `| ${suite} | ${n} | ${h.toLocaleString('en')} | ${fmt(per(full))} | ${fmt(per(ref))} | ${fmt(gz(full))} | ${fmt(gz(ref))} | ${fmt(zs(full))} | ${fmt(zs(ref))} | ${(1e6 / cpu).toFixed(2)} | ${us(deflateFull)} / ${us(inflateFull)} | ${us(deflateRef)} / ${us(inflateRef)} |`,
      );
    }
  }
  return [
    '| Suite | Recipients | Header bytes | Bytes / record | with reference | gzip batch / record | with reference | zstd batch / record | with reference | Header copy + compare µs / record | gzip deflate / inflate µs / record | with reference |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...out,
  ].join('\n');
}
const headerTable = headerReferenceCost(providers.get('sodium-native')!);
console.log(`\n${headerTable}`);
if (HEADER_ONLY) process.exit(0);

const TARGETS: Record<string, number> = {
  'session·seal': 50_000,
  'session·open': 50_000,
  'one-message signed·seal': 7_500,
  'one-message signed·open': 6_000,
};
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};
const installed = (m: string) =>
  (
    JSON.parse(
      readFileSync(new URL(`../node_modules/${m}/package.json`, import.meta.url), 'utf8'),
    ) as { version: string }
  ).version;
const table = [
  '| Provider | Suite | Recipients | Mode | Op | ops/s (median of ' +
    RUNS +
    ') | Target (sodium-native, suite 1) | Crypto floor ops/s | Envelope ÷ floor | Bytes / record | Bytes allocated / msg | of which envelope alone |',
  '|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(({ c, ops, floorOps, alloc, bareAlloc }) => {
    const target = TARGETS[`${c.mode}·${c.op}`]!;
    const verdict =
      c.provider === 'sodium-native' && c.suite === 1
        ? `${target.toLocaleString('en')} ${ops >= target ? '✓' : '✗'}`
        : '—';
    return `| ${c.provider} | ${c.suite} | ${c.recipients} | ${c.mode} | ${c.op} | ${Math.round(ops).toLocaleString('en')} | ${verdict} | ${Math.round(floorOps).toLocaleString('en')} | ${Math.round((100 * ops) / floorOps)}% | ${c.recordBytes.toLocaleString('en')} | ${fmtAlloc(alloc)} | ${fmtAlloc(bareAlloc)} |`;
  }),
].join('\n');

const section = `## Envelope (in process)

Command: \`npm run bench:envelope\` (bench/envelope.ts). One Node thread; ops/s are operations per
CPU-second of the process (per core, robust to the machine's load; GC threads included). Payload a
${RECORD_BYTES}-byte Avro record in Confluent framing (avsc encode included in seal, decode in open),
record key set, padmé padding. Session mode: one long session; open hits the header cache and runs the
replay pre-check. One-message signed: a fresh session (boxes + Ed25519 header signature + message
signature) per record; open does the full header open (X25519, Ed25519 ×2) per record. Each figure is
the median of ${RUNS} runs of ${SECONDS} CPU-second. Bytes allocated per message: V8 heap plus ArrayBuffer
memory over a GC-free loop of 1,000 messages (200 for one-message sessions) after full GCs, median of 3 ("~" = fewer than 3 GC-free
runs: approximate); "envelope alone" is the same operation without the Avro encode/decode (the record
value and the delivered payload copy are included: ~1.3 KB and ~1.1 KB of it). "Crypto floor" is the
libsodium work alone that each operation must do (AEAD of the padded record, BLAKE2b digest over the
ciphertext, the MACs, the key binding; plus, for one-message sessions, one sealed box per recipient and
two Ed25519 signatures to seal, one box open and two verifications to open), measured interleaved
with the envelope runs: the ratio shows what the format's bookkeeping and our code cost, whatever the
machine's load.

Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores shared with other work
(numbers are noisy), Node ${process.version}, sodium-native ${installed('sodium-native')},
libsodium-wrappers ${installed('libsodium-wrappers')}, avsc ${installed('avsc')} (package.json: ${pkg.dependencies['sodium-native'] ?? '?'}).

${table}

Suite 2 (X-Wing slots, docs/SPEC.md §2.2) changes only the header: per message in session mode it
costs what suite 1 does (the header is cached), and the record grows by 1,088 bytes per recipient.
One-message sessions pay an X-Wing encapsulation per recipient to seal and a decapsulation to open
(the floor says how much). What a reference to an already-sent header would save, for batches of
100 records of one session (docs/PQ-NOTES.md discusses whether to build it):

${headerTable}

Reading the table: session mode is far above target with both providers; its "envelope ÷ floor" gap
is the Avro encode/decode, the strict decode, the copies in and out and the per-message objects. One-message
signed sessions are bound by public-key work (the floor): with 3 recipients the three sealed boxes
alone (floor ≈ 5,500/s) put 7,500 seals/s out of reach on this CPU, so that target holds for 1
recipient only. Run-to-run variation on this shared 2-core machine is large (±25% between runs in the
same hour, CPU-time measurement notwithstanding): one-message signed figures near their targets may
land on either side. Bytes per one-message session (~22 KB with sodium-native) are not a target: they
are the session's header building and scratch, paid once per session.
`;

console.log(`\n${section}`);
if (WRITE) {
  const path = new URL('../docs/PERFORMANCE.md', import.meta.url);
  let doc = '';
  try {
    doc = readFileSync(path, 'utf8');
  } catch {
    doc = '# Performance\n\n';
  }
  const start = doc.indexOf('## Envelope (in process)');
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + 3);
    doc = doc.slice(0, start) + section + (next >= 0 ? doc.slice(next + 1) : '');
  } else {
    doc = `${doc.trimEnd()}\n\n${section}`;
  }
  writeFileSync(path, doc);
  console.log(`written to ${fileURLToPath(path)}`);
}
