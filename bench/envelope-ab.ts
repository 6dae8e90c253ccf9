/**
 * A/B of the envelope's own CPU per record, in process, between two checkouts (issue 18): session
 * mode, 1 recipient, sodium-native, the 1,019-byte bench record, no Avro (the envelope operation
 * alone). Each checkout runs in its own child (`node --import tsx`), the pairs alternate their order
 * (AB, BA, …) so machine drift hits both sides alike.
 *
 *   npx tsx bench/envelope-ab.ts --a DIR_A --b DIR_B [--op open|seal] [--pairs 8] [--runs 7] [--ms 200]
 *
 * DIR is a checkout with node_modules linked, e.g.
 *   mkdir /tmp/oa && git archive COMMIT | tar -x -C /tmp/oa && ln -s /work/main/node_modules /tmp/oa/
 *
 * A child measures µs of process CPU (user + system, process.cpuUsage) per operation: a warm-up, then
 * `runs` rounds of `ms` CPU-milliseconds of the operation, each followed by as long a run of the
 * libsodium work the operation must do (the "floor", as in bench/envelope.ts); the median of each.
 * "around" = op − floor: the envelope code around libsodium. Printed per pair, then medians and the
 * median of the per-pair ratios B/A (min–max).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import type * as CryptoApi from '../src/crypto/index.js';
import type * as EnvelopeApi from '../src/envelope/index.js';
import type * as ClockApi from '../src/runtime/clock.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type EnvelopeModule = typeof EnvelopeApi;
type CryptoModule = typeof CryptoApi;
type ClockModule = typeof ClockApi;

interface WorkerResult {
  readonly opUs: number;
  readonly floorUs: number;
}

async function worker(dir: string, op: 'open' | 'seal', runs: number, ms: number): Promise<void> {
  const imp = (p: string) => import(pathToFileURL(path.join(dir, p)).href);
  // Another checkout's modules, typed as this one's.
  const env = (await imp('src/envelope/index.ts')) as EnvelopeModule;
  const cryptoMod = (await imp('src/crypto/index.ts')) as CryptoModule;
  const clockMod = (await imp('src/runtime/clock.ts')) as ClockModule;
  const p = await cryptoMod.createCryptoProvider('sodium-native');
  const { createSealingSession, EnvelopeOpener, kid, ReplayWindow } = env;

  const record = new Uint8Array(1019).fill(7);
  record[0] = 0;
  record[4] = 42;
  const TOPIC = 'orders.v1';
  const schemaFp = new Uint8Array(16).fill(3);
  const key = new TextEncoder().encode('ord-000000001');
  const ctx = { topic: TOPIC, partition: 0, key };
  const alice = p.signKeyPair();
  const bob = p.boxKeyPair();
  const aliceKid = kid(p, 'ed25519', alice.publicKey);
  const bobKid = kid(p, 'x25519', bob.publicKey);
  const namespace = kid(p, 'ed25519', p.signKeyPair().publicKey);
  const newSession = (maxMessages: number) =>
    createSealingSession({
      provider: p,
      clock: clockMod.systemClock,
      envelopeSchemaId: 7,
      namespace,
      topic: TOPIC,
      senderSigningSecretKey: alice.secretKey,
      recipients: [{ kid: bobKid, publicKey: bob.publicKey }],
      streamId: p.randomBytes(16),
      lifetimeMs: 3_600_000,
      maxMessages,
    });
  const input = (seq: number) => ({
    partition: 0,
    seq,
    key,
    schemaFp,
    contentType: 'application/vnd.order+avro',
    payload: record,
  });

  let run: (i: number) => void;
  if (op === 'seal') {
    let s = newSession(10_000);
    let seq = 0;
    run = () => {
      if (!s.isUsable()) {
        s.close();
        s = newSession(10_000);
      }
      s.seal(input(seq++));
    };
  } else {
    const source = newSession(2 ** 31);
    const pool = Array.from({ length: 4096 }, (_, i) => source.seal(input(i)).value);
    source.close();
    const opener = new EnvelopeOpener({
      provider: p,
      clock: clockMod.systemClock,
      resolver: {
        resolveSender: (k) =>
          Buffer.compare(k, aliceKid) === 0
            ? {
                identity: 'alice',
                signingPublicKey: alice.publicKey,
                status: 'active',
                validFromMs: 0,
                validUntilMs: Number.MAX_SAFE_INTEGER,
                maySendOnTopic: true,
              }
            : undefined,
        mayReceive: () => true,
        epoch: () => 1,
      },
      policy: { skewMs: 300_000, horizonMs: 7 * 86_400_000, maxSessionLifetimeMs: 86_400_000 },
      limits: { envelopeSchemaId: 7, namespace, maxCiphertextBytes: 1 << 20 },
      recipientKeys: [{ kid: bobKid, publicKey: bob.publicKey, secretKey: bob.secretKey }],
    });
    const window = new ReplayWindow();
    const hooks = { window: () => window };
    run = (i) => {
      if (opener.open(pool[i & 4095]!, ctx, hooks).kind !== 'delivered') throw new Error('open');
    };
  }

  // The libsodium work of one session-mode message (bench/envelope.ts floors(), 1 recipient).
  const ctLen = 1136;
  const padded = p.randomBytes(ctLen - 16);
  const ct = new Uint8Array(ctLen);
  const k = p.randomBytes(32);
  const nonce = p.randomBytes(24);
  const aad = p.randomBytes(77);
  p.aeadEncrypt(ct, padded, aad, nonce, k);
  const plainOut = new Uint8Array(ctLen - 16);
  const digestIn = p.randomBytes(ctLen + 106);
  const digest = new Uint8Array(32);
  const tagIn = p.randomBytes(50);
  const tag = new Uint8Array(16);
  const keyIn = p.randomBytes(36);
  const kb = new Uint8Array(32);
  const floor =
    op === 'seal'
      ? () => {
          p.hash(kb, keyIn);
          p.randomFill(nonce);
          p.aeadEncrypt(ct, padded, aad, nonce, k);
          p.hash(digest, digestIn);
          p.hash(tag, tagIn, k);
        }
      : () => {
          p.hash(kb, keyIn);
          p.hash(digest, digestIn);
          p.hash(tag, tagIn, k);
          if (!p.aeadDecrypt(plainOut, ct, aad, nonce, k)) throw new Error('floor');
        };

  const cpuUs = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  let next = 0;
  const timed = (f: (i: number) => void, budgetMs: number): number => {
    const t0 = cpuUs();
    let t = t0;
    let n = 0;
    while (t - t0 < budgetMs * 1000) {
      for (let j = 0; j < 64; j++) f(next++);
      n += 64;
      t = cpuUs();
    }
    return (t - t0) / n;
  };
  timed(run, 400);
  timed(floor, 100);
  const ops: number[] = [];
  const floors: number[] = [];
  for (let r = 0; r < runs; r++) {
    ops.push(timed(run, ms));
    floors.push(timed(floor, ms));
  }
  const out: WorkerResult = { opUs: median(ops), floorUs: median(floors) };
  console.log(`ENVELOPE_AB ${JSON.stringify(out)}`);
}

function runChild(dir: string, op: string, runs: string, ms: string): WorkerResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', self, '--worker', dir, '--op', op, '--runs', runs, '--ms', ms],
    { encoding: 'utf8' },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('ENVELOPE_AB '));
  if (r.status !== 0 || line === undefined)
    throw new Error(`child in ${dir} failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(line.slice('ENVELOPE_AB '.length)) as WorkerResult;
}

const op = opt('op', 'open') as 'open' | 'seal';
if (op !== 'open' && op !== 'seal') throw new Error('--op open|seal');
if (argv.includes('--worker')) {
  await worker(opt('worker', '.'), op, Number(opt('runs', '7')), Number(opt('ms', '200')));
} else {
  const a = path.resolve(opt('a', '.'));
  const b = path.resolve(opt('b', '.'));
  const pairs = Number(opt('pairs', '8'));
  const runs = opt('runs', '7');
  const ms = opt('ms', '200');
  const rows: { a: WorkerResult; b: WorkerResult }[] = [];
  console.log(
    `op ${op}, A ${a}, B ${b}, ${pairs} pairs (µs/record: op, floor, around = op − floor)`,
  );
  for (let i = 0; i < pairs; i++) {
    let ra: WorkerResult;
    let rb: WorkerResult;
    if (i % 2 === 0) {
      ra = runChild(a, op, runs, ms);
      rb = runChild(b, op, runs, ms);
    } else {
      rb = runChild(b, op, runs, ms);
      ra = runChild(a, op, runs, ms);
    }
    rows.push({ a: ra, b: rb });
    const f = (r: WorkerResult) =>
      `${r.opUs.toFixed(3)} ${r.floorUs.toFixed(3)} ${(r.opUs - r.floorUs).toFixed(3)}`;
    console.log(
      `pair ${i + 1}: A ${f(ra)} | B ${f(rb)} | B/A op ${(rb.opUs / ra.opUs).toFixed(3)} around ${((rb.opUs - rb.floorUs) / (ra.opUs - ra.floorUs)).toFixed(3)}`,
    );
  }
  const stat = (name: string, get: (r: WorkerResult) => number) => {
    const ratios = rows.map((r) => get(r.b) / get(r.a));
    console.log(
      `${name.padEnd(7)} A ${median(rows.map((r) => get(r.a))).toFixed(3)}  B ${median(rows.map((r) => get(r.b))).toFixed(3)}  B/A ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
    );
  };
  stat('op', (r) => r.opUs);
  stat('floor', (r) => r.floorUs);
  stat('around', (r) => r.opUs - r.floorUs);
}
