/**
 * What sealing adds per record with no Kafka client in it (docs/PERFORMANCE.md "Where the time goes"):
 * the real SealedProducer and SealedConsumer over the in-memory Transport (src/kafka/in-memory-
 * transport.ts, the contract-tested fake), against a plain baseline over the same transport of the
 * same shape as the plain kafkajs variant of bench/e2e-clients.ts (registry Avro encode + send of 500
 * records; fetch + Avro decode + resolve, one commit per batch). Record, batch size (500), sends in
 * flight (2), metrics and registry client as bench/profile-e2e.ts; the registry is the in-memory fake
 * (one call per schema; encode and decode then run from the client's cache, as against Apicurio).
 *
 *   npx tsx bench/pipeline-in-memory.ts [--rounds 7] [--warmup 1] [--messages 20000]
 *     [--only plain,sealed-1,raw-plain,raw-sealed]
 *
 * After `--warmup` rounds that are not counted (the first round runs cold: twice the CPU of the
 * next), each round runs, in an order that alternates between rounds, every variant on a fresh in-memory
 * cluster: its producer phase (CPU from the first send to the last acknowledgement) and its consumer
 * phase (a fresh group from the beginning; CPU from the first record to the last, as profile-e2e).
 *   plain      registry Avro encode + transport send / transport fetch + Avro decode + commit
 *   sealed-1   SealedProducer (session mode, 1 recipient) / SealedConsumer (opens, checks, marks)
 *   raw-plain  the transport alone, on copies of a real plain record (no Avro)
 *   raw-sealed the transport alone, on copies of a real sealed record (key, value, headers)
 * and the libsodium work of one message each way (bench/envelope-floor.ts), 20,000 times on the same
 * buffers and once over 20,000 distinct records (out of the caches, as real records are). CPU is this
 * process's user + system time (process.cpuUsage). The table gives medians over the rounds (min–max);
 * "added" is sealed − plain per round, "ours" is added − floor − (raw-sealed − raw-plain), i.e. what
 * sealpost's own code adds beyond the libsodium work and beyond what the bigger record costs the
 * transport. The last line is one JSON object with every round's figures and phase windows: for a
 * profile, run under `node --cpu-prof --cpu-prof-interval 200 --import tsx` with `--only sealed-1
 * --rounds 1 --messages 60000` and summarise a window with `bench/profile-areas.ts FILE --from µs
 * --to µs --records N`.
 */
import {
  floor,
  runVariant,
  VARIANTS,
  type Figures,
  type Side,
  type Variant,
} from './pipeline-in-memory-run.js';
import {
  loadAverages,
  makeRig,
  median,
  recordBytes,
  sampleRecords,
  spread,
} from './pipeline-rig.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const ROUNDS = Number(opt('rounds', '7'));
const WARMUP = Number(opt('warmup', '1'));
const MESSAGES = Number(opt('messages', '20000'));
const ONLY = opt('only', VARIANTS.join(',')).split(',') as Variant[];
for (const v of ONLY) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}`);

const rig = await makeRig();
const samples = await sampleRecords(rig);
const loadStart = await loadAverages();
console.log(
  `records: plain ${recordBytes(samples.plain)} B (value ${samples.plain.value!.length}), sealed ${recordBytes(samples.sealed)} B (value ${samples.sealed.value!.length}, key ${samples.sealed.key?.length ?? 0}, ${samples.sealed.headers?.length ?? 0} headers); load ${loadStart}`,
);
const rounds: (Record<Variant, Figures> & { floor: ReturnType<typeof floor> })[] = [];
for (let w = 0; w < WARMUP; w++) for (const v of ONLY) await runVariant(v, rig, samples, MESSAGES);
for (let r = 0; r < ROUNDS; r++) {
  const order_ = r % 2 === 0 ? ONLY : [...ONLY].reverse();
  const round = {} as Record<Variant, Figures>;
  for (const v of order_) round[v] = await runVariant(v, rig, samples, MESSAGES);
  const fl = floor(rig, MESSAGES);
  rounds.push({ ...round, floor: fl });
  console.log(
    `round ${r + 1}: ${order_.map((v) => `${v} ${round[v].produceCpuUs.toFixed(2)}/${round[v].consumeCpuUs.toFixed(2)}`).join(', ')}, floor ${fl.seal.toFixed(2)}/${fl.open.toFixed(2)} (cold ${fl.coldSeal.toFixed(2)}/${fl.coldOpen.toFixed(2)}) µs (producer/consumer)`,
  );
}

const col = (f: (x: (typeof rounds)[number]) => number): number[] => rounds.map(f);
const has = (v: Variant): boolean => ONLY.includes(v);
console.log(`\nCPU µs per record, median (min–max) of ${ROUNDS} rounds, ${MESSAGES} records each:`);
console.log('| | producer | consumer |\n|---|---:|---:|');
const row = (name: string, p: number[], c: number[]): void =>
  console.log(`| ${name} | ${spread(p)} | ${spread(c)} |`);
for (const v of ONLY)
  row(
    v,
    col((x) => x[v].produceCpuUs),
    col((x) => x[v].consumeCpuUs),
  );
row(
  'libsodium floor (one message)',
  col((x) => x.floor.seal),
  col((x) => x.floor.open),
);
row(
  'libsodium floor over records out of cache',
  col((x) => x.floor.coldSeal),
  col((x) => x.floor.coldOpen),
);
if (has('plain') && has('sealed-1')) {
  const added = (side: Side) => col((x) => x['sealed-1'][side] - x.plain[side]);
  row('added (sealed-1 − plain, per round)', added('produceCpuUs'), added('consumeCpuUs'));
  row(
    'added / floor',
    col((x) => (x['sealed-1'].produceCpuUs - x.plain.produceCpuUs) / x.floor.seal),
    col((x) => (x['sealed-1'].consumeCpuUs - x.plain.consumeCpuUs) / x.floor.open),
  );
  row(
    'sealed-1 / plain',
    col((x) => x['sealed-1'].produceCpuUs / x.plain.produceCpuUs),
    col((x) => x['sealed-1'].consumeCpuUs / x.plain.consumeCpuUs),
  );
  if (has('raw-plain') && has('raw-sealed')) {
    const size = (side: Side) => col((x) => x['raw-sealed'][side] - x['raw-plain'][side]);
    row('transport: raw-sealed − raw-plain', size('produceCpuUs'), size('consumeCpuUs'));
    const ours = (side: Side, fl: 'seal' | 'open') =>
      col(
        (x) =>
          x['sealed-1'][side] -
          x.plain[side] -
          x.floor[fl] -
          (x['raw-sealed'][side] - x['raw-plain'][side]),
      );
    row(
      'ours = added − floor − transport size cost',
      ours('produceCpuUs', 'seal'),
      ours('consumeCpuUs', 'open'),
    );
    const oursCold = (side: Side, fl: 'coldSeal' | 'coldOpen') =>
      col(
        (x) =>
          x['sealed-1'][side] -
          x.plain[side] -
          x.floor[fl] -
          (x['raw-sealed'][side] - x['raw-plain'][side]),
      );
    row(
      'ours over the cold floor',
      oursCold('produceCpuUs', 'coldSeal'),
      oursCold('consumeCpuUs', 'coldOpen'),
    );
    row(
      'Avro + plain shape = plain − raw-plain',
      col((x) => x.plain.produceCpuUs - x['raw-plain'].produceCpuUs),
      col((x) => x.plain.consumeCpuUs - x['raw-plain'].consumeCpuUs),
    );
  }
}
console.log(`load averages: start ${loadStart}, end ${await loadAverages()}`);
console.log(
  JSON.stringify({
    messages: MESSAGES,
    medianFloor: {
      seal: median(col((x) => x.floor.seal)),
      open: median(col((x) => x.floor.open)),
    },
    rounds,
  }),
);
await rig.close();
