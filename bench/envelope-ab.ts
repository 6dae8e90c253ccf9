/**
 * A/B of the envelope's own CPU per record, in process, between two checkouts (issue 18): session
 * mode, 1 recipient, sodium-native, a 1,019-byte record, no Avro (the envelope operation alone).
 *
 *   npx tsx bench/envelope-ab.ts --a DIR_A --b DIR_B [--op open|seal] [--pairs 4] [--runs 15] [--ms 100]
 *
 * DIR is a checkout with node_modules linked, e.g.
 *   mkdir DIR && git archive COMMIT | tar -x -C DIR && ln -s "$PWD/node_modules" DIR/
 *
 * Each of `pairs` child processes (`node --import tsx`) loads BOTH checkouts' modules side by side
 * and runs `runs` rounds of `ms` CPU-milliseconds of A's operation and of B's (their order
 * alternating), each round followed by as long a run of the libsodium work the operation must do
 * (the "floor", as in bench/envelope.ts), all in µs of process CPU (user + system,
 * process.cpuUsage) per operation. In-process interleaving keeps the machine's load, the CPU's clock
 * and the process's layout the same for A and B; which checkout loads first alternates between
 * processes. "around" = op − floor: the envelope code around libsodium. Printed per process (medians
 * over its rounds), then the medians over processes and of the per-process ratios B/A (min–max).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import type * as CryptoApi from '../src/crypto/index.js';
import type * as EnvelopeApi from '../src/envelope/index.js';
import type * as ClockApi from '../src/runtime/clock.js';
import { messageFloor } from './envelope-floor.js';

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
  /** Medians over the rounds: µs of CPU per operation of A and of B, and of the floor. */
  readonly aUs: number;
  readonly bUs: number;
  readonly floorUs: number;
  /** Median over the rounds of B/A (each round runs both). */
  readonly ratio: number;
}

/** One checkout's operation (and the libsodium floor of it, with that checkout's provider). */
async function makeCase(
  dir: string,
  op: 'open' | 'seal',
): Promise<{ run: (i: number) => void; floor: () => void }> {
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

  // The libsodium work of one session-mode message, 1 recipient (as bench/envelope.ts measures it).
  const message = messageFloor(p, 1);
  const floor = op === 'seal' ? message.seal : message.open;

  return { run, floor };
}

async function worker(
  dirA: string,
  dirB: string,
  op: 'open' | 'seal',
  runs: number,
  ms: number,
): Promise<void> {
  const a = await makeCase(dirA, op);
  const b = await makeCase(dirB, op);
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
  // Warm both up, then rounds of A, B and the floor (A's provider), the order of A and B alternating.
  timed(a.run, 400);
  timed(b.run, 400);
  timed(a.floor, 100);
  const opA: number[] = [];
  const opB: number[] = [];
  const floors: number[] = [];
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) {
      opA.push(timed(a.run, ms));
      opB.push(timed(b.run, ms));
    } else {
      opB.push(timed(b.run, ms));
      opA.push(timed(a.run, ms));
    }
    floors.push(timed(a.floor, ms));
  }
  const out: WorkerResult = {
    aUs: median(opA),
    bUs: median(opB),
    floorUs: median(floors),
    ratio: median(opB.map((x, i) => x / opA[i]!)),
  };
  console.log(`ENVELOPE_AB ${JSON.stringify(out)}`);
}

function runChild(a: string, b: string, op: string, runs: string, ms: string): WorkerResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      self,
      '--worker',
      a,
      '--worker-b',
      b,
      '--op',
      op,
      '--runs',
      runs,
      '--ms',
      ms,
    ],
    { encoding: 'utf8' },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('ENVELOPE_AB '));
  if (r.status !== 0 || line === undefined)
    throw new Error(`child failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(line.slice('ENVELOPE_AB '.length)) as WorkerResult;
}

const op = opt('op', 'open') as 'open' | 'seal';
if (op !== 'open' && op !== 'seal') throw new Error('--op open|seal');
if (argv.includes('--worker')) {
  await worker(
    opt('worker', '.'),
    opt('worker-b', '.'),
    op,
    Number(opt('runs', '15')),
    Number(opt('ms', '100')),
  );
} else {
  const a = path.resolve(opt('a', '.'));
  const b = path.resolve(opt('b', '.'));
  const pairs = Number(opt('pairs', '4'));
  const runs = opt('runs', '15');
  const ms = opt('ms', '100');
  const rows: WorkerResult[] = [];
  console.log(
    `op ${op}, A ${a}, B ${b}, ${pairs} processes × ${runs} rounds of ${ms} ms CPU (µs/record)`,
  );
  for (let i = 0; i < pairs; i++) {
    // Which checkout is loaded first alternates too (module load order, heap layout).
    const r = i % 2 === 0 ? runChild(a, b, op, runs, ms) : swap(runChild(b, a, op, runs, ms));
    rows.push(r);
    console.log(
      `process ${i + 1}: A ${r.aUs.toFixed(3)}  B ${r.bUs.toFixed(3)}  floor ${r.floorUs.toFixed(3)}  around A ${(r.aUs - r.floorUs).toFixed(3)} B ${(r.bUs - r.floorUs).toFixed(3)}  B/A op ${r.ratio.toFixed(3)} around ${((r.bUs - r.floorUs) / (r.aUs - r.floorUs)).toFixed(3)}`,
    );
  }
  const stat = (name: string, ga: (r: WorkerResult) => number, gb: (r: WorkerResult) => number) => {
    const ratios = rows.map((r) => gb(r) / ga(r));
    console.log(
      `${name.padEnd(7)} A ${median(rows.map(ga)).toFixed(3)}  B ${median(rows.map(gb)).toFixed(3)}  B/A ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
    );
  };
  stat(
    'op',
    (r) => r.aUs,
    (r) => r.bUs,
  );
  stat(
    'around',
    (r) => r.aUs - r.floorUs,
    (r) => r.bUs - r.floorUs,
  );
  console.log(`floor   ${median(rows.map((r) => r.floorUs)).toFixed(3)}`);
}

function swap(r: WorkerResult): WorkerResult {
  return { aUs: r.bUs, bUs: r.aUs, floorUs: r.floorUs, ratio: 1 / r.ratio };
}
