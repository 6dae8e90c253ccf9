/**
 * Model-based test of SealedConsumer (issue #14 deliverable 3) on the in-memory transport: a real
 * consumer with real crypto (identities, directory, local KMS, envelopes sealed by a real
 * SealedProducer), a fake registry (registry-fake.ts), and random interleavings of commands —
 * produce sealed records and junk (dead letters), let time pass, handler throws, failed dead-letter
 * writes, failed state writes, failed commits, broker outages, rebalances, a second member, kill -9
 * and restart, clean restart, directory changes, a member fenced by the coordinator mid-batch (frozen
 * past its session: InMemoryCluster.fenceMember).
 *
 * Invariants, checked from a ledger (never from "no exception"):
 * 1. No offset is committed past a record that was neither handed out (with the handler returning)
 *    nor dead-lettered — checked at the instant of each commit (InMemoryCluster `onCommit`).
 * 2. Every repeated hand-out of a record is flagged `redelivery: true`.
 * 3. Per partition, first hand-outs come in offset order.
 * 4. Nothing is handed out that was not produced (same partition, offset and message id).
 * 5. Once the faults stop and time passes, every record is handed out or dead-lettered. No command
 *    here (the faults are ordinary: failed writes and commits, lost acknowledgements, crashes,
 *    rebalances) may leave a partition held for an operator (REPLAY_STATE_* alert): only tampering
 *    with the state topic or the offsets should, and the model does neither.
 * 6. A member the coordinator fenced (`fenceMidBatch`) hands nothing out from the fence until it has
 *    rejoined the group: the rest of its batch in hand is stale (the membership lease,
 *    src/kafka/membership-lease.ts).
 */
import fc from 'fast-check';
import { decodeDeadLetterMetadata, DEAD_LETTER_HEADER } from '../../src/events/dead-letter.js';
import type { Transport } from '../../src/kafka/transport.js';
import type { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../src/keys/identity.js';
import type { Kms } from '../../src/keys/kms/kms.js';
import { SealedConsumer, type SealedDelivery } from '../../src/pipeline/sealed-consumer.js';
import { SealedProducer } from '../../src/pipeline/sealed-producer.js';
import {
  SchemaRegistryClient,
  type FetchFunction,
} from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import {
  createInMemoryTransport,
  InMemoryCluster,
  ManualScheduler,
  settle,
  type CommitLogEntry,
  type InMemoryTransport,
} from '../../src/testing.js';
import { makePipelineWorld, ORDER_SCHEMA, type PipelineWorld } from '../support/pipeline-world.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from './registry-fake.js';

const DATA = 'model-orders';
const STATE = 'model-state';
const DLQ = 'model-dlq';
const GROUP = 'billing-model';
const PARTITIONS = 2;

/** What every run shares: identities, the signed directory, the local KMS (built once). */
export interface ModelWorld {
  readonly world: PipelineWorld;
  readonly directory: KeyDirectory;
  readonly sender: LoadedIdentity;
  readonly receiver: LoadedIdentity;
  cleanup(): Promise<void>;
}

export async function makeModelWorld(): Promise<ModelWorld> {
  const world = await makePipelineWorld([
    { name: 'orders', send: [DATA], receive: [] },
    { name: 'billing', send: [], receive: [DATA] },
  ]);
  const directory = await world.directory();
  return {
    world,
    directory,
    sender: await world.identity('orders'),
    receiver: await world.identity('billing'),
    cleanup: () => world.cleanup(),
  };
}

interface HandOut {
  readonly instance: number;
  readonly partition: number;
  readonly offset: string;
  readonly redelivery: boolean;
  readonly messageId: string;
  ok: boolean;
}

interface Instance {
  readonly id: number;
  readonly transport: InMemoryTransport;
  consumer: SealedConsumer | undefined;
  /** False once killed or closed: a dead process runs no handler. */
  alive: boolean;
}

/** A KMS that counts calls in flight (so settling waits for them). */
function countingKms(inner: Kms, inFlight: { n: number }): Kms {
  const counted =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      inFlight.n++;
      try {
        return await f(...a);
      } finally {
        inFlight.n--;
      }
    };
  return {
    reference: inner.reference,
    wrap: counted((p: Uint8Array) => inner.wrap(p)),
    unwrap: counted((w: Parameters<Kms['unwrap']>[0]) => inner.unwrap(w)),
    rewrap: counted((w: Parameters<Kms['rewrap']>[0]) => inner.rewrap(w)),
    rotate: () => inner.rotate(),
    describe: () => inner.describe(),
    setMinDecryptionVersion: (v: number) => inner.setMinDecryptionVersion(v),
    // Shared by every run: closed by the world, never by a consumer.
    close: () => Promise.resolve(),
  };
}

/** One run's real system and its ledger. */
export class ConsumerModelRun {
  readonly scheduler = new ManualScheduler(systemClock.nowMs());
  readonly cluster: InMemoryCluster;
  readonly violations: string[] = [];
  readonly handOuts: HandOut[] = [];
  readonly alerts: { instance: number; partition: number; code: string }[] = [];
  readonly #w: ModelWorld;
  readonly #fetch: FetchFunction = fakeRegistryFetch();
  readonly #kmsInFlight = { n: 0 };
  readonly #kms: Kms;
  readonly #handledOk = new Set<string>();
  /** `partition:offset` → message id, from the producer's acknowledgements. */
  readonly #produced = new Map<string, string>();
  readonly #junk = new Set<string>();
  readonly #instances: Instance[] = [];
  #deadLettered = new Set<string>();
  #dlqSeen = 0;
  /** Most consumers live at once, and how many were killed (for the statistics). */
  maxLive = 0;
  killed = 0;
  /** How many members were fenced mid-batch (`fenceMidBatch`). */
  fenced = 0;
  /** The instance fenced right after its next hand-out (`fenceMidBatch`). */
  #fenceAfterHandOut: number | undefined;
  /** Instances fenced and not seen back in the group yet (invariant 6). */
  readonly #fencedOut = new Set<number>();
  #throwBudget = 0;
  #producer: SealedProducer | undefined;
  #raw: ReturnType<Transport['producer']> | undefined;

  constructor(world: ModelWorld) {
    this.#w = world;
    this.#kms = countingKms(world.world.kms, this.#kmsInFlight);
    this.cluster = new InMemoryCluster({
      scheduler: this.scheduler,
      maxBatchRecords: 3,
      onCommit: (e) => this.#checkCommit(e),
    });
  }

  #registry(): SchemaRegistryClient {
    return new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: this.#fetch });
  }

  async start(): Promise<void> {
    const t = createInMemoryTransport({ cluster: this.cluster, clientId: 'producer' });
    const admin = t.admin();
    await admin.createTopics([
      { topic: DATA, numPartitions: PARTITIONS },
      { topic: STATE, compacted: true },
      { topic: DLQ },
    ]);
    this.#producer = new SealedProducer({
      transport: t,
      registry: this.#registry(),
      crypto: this.#w.world.crypto,
      clock: systemClock,
      identity: this.#w.sender,
      directory: this.#w.directory,
      valueSchemas: { [DATA]: ORDER_SCHEMA },
    });
    await this.#producer.connect();
    this.#raw = t.producer();
    await this.#raw.connect();
    await this.startInstance();
    await this.settle();
  }

  live(): Instance[] {
    return this.#instances.filter((i) => i.alive);
  }

  async startInstance(): Promise<void> {
    const id = this.#instances.length;
    const transport = createInMemoryTransport({ cluster: this.cluster, clientId: `c${id}` });
    const inst: Instance = { id, transport, consumer: undefined, alive: true };
    this.#instances.push(inst);
    const w = this.#w;
    inst.consumer = new SealedConsumer({
      transport,
      groupId: GROUP,
      topics: [DATA],
      registry: this.#registry(),
      crypto: w.world.crypto,
      clock: systemClock,
      identity: w.receiver,
      directory: w.directory,
      kms: this.#kms,
      stateTopic: STATE,
      deadLetterTopic: DLQ,
      deadLetterDetailRecipients: ['billing'],
      fromBeginning: true,
      unknownSenderWaitMs: 0,
      maxRetryDelayMs: 50,
      redeliveryMarkAhead: 3,
      commitEveryRecords: 2,
      consumerOptions: { retryInitialDelayMs: 10, retryMaxDelayMs: 200 },
      onAlert: (a) => this.alerts.push({ instance: id, partition: a.partition, code: a.code }),
    });
    await inst.consumer.run({ eachMessage: (d) => this.#handle(inst, d) });
    this.maxLive = Math.max(this.maxLive, this.live().length);
  }

  #handle(inst: Instance, d: SealedDelivery): Promise<void> {
    if (!inst.alive) return Promise.reject(new Error('the process is dead'));
    const h: HandOut = {
      instance: inst.id,
      partition: d.partition,
      offset: d.offset,
      redelivery: d.redelivery,
      messageId: d.messageId,
      ok: false,
    };
    this.handOuts.push(h);
    if (this.#fencedOut.has(inst.id)) {
      if (this.#memberIdOf(inst) === undefined)
        this.violations.push(
          `hand-out of ${d.partition}:${d.offset} by c${inst.id} while its member was fenced`,
        );
      else this.#fencedOut.delete(inst.id);
    }
    if (this.#fenceAfterHandOut === inst.id) {
      this.#fenceAfterHandOut = undefined;
      this.#fence(inst);
    }
    if (this.#throwBudget > 0) {
      this.#throwBudget--;
      return Promise.reject(new Error('handler failed (model command)'));
    }
    h.ok = true;
    this.#handledOk.add(`${d.partition}:${d.offset}`);
    return Promise.resolve();
  }

  #refreshDeadLetters(): void {
    const records = this.cluster.records(DLQ, 0);
    for (const r of records.slice(this.#dlqSeen)) {
      const h = r.headers.find((x) => x.key === DEAD_LETTER_HEADER);
      const m = h === undefined || h.value === null ? null : decodeDeadLetterMetadata(h.value);
      if (m !== null && m.topic === DATA) this.#deadLettered.add(`${m.partition}:${m.offset}`);
    }
    this.#dlqSeen = records.length;
  }

  /** Invariant 1, at the instant of the commit. */
  #checkCommit(e: CommitLogEntry): void {
    if (e.groupId !== GROUP || e.topic !== DATA) return;
    this.#refreshDeadLetters();
    const upTo = BigInt(e.offset);
    for (let o = 0n; o < upTo; o++) {
      const k = `${e.partition}:${o}`;
      if (!this.#handledOk.has(k) && !this.#deadLettered.has(k))
        this.violations.push(
          `commit ${e.partition}@${e.offset} (generation ${e.generation}) passes offset ${o}, neither handled nor dead-lettered`,
        );
    }
  }

  /** Lets every client run until nothing moves (bounded; a real-time retry may still be pending). */
  async settle(): Promise<void> {
    await settle(this.cluster, { busy: () => this.#kmsInFlight.n > 0 });
  }

  // ---- commands -------------------------------------------------------------------------------

  async produce(keys: readonly string[]): Promise<void> {
    const sent = await this.#producer!.send({
      topic: DATA,
      messages: keys.map((k, i) => ({
        key: k,
        value: { id: `${k}-${i}`, cents: i, note: 'model' },
      })),
    });
    for (const s of sent) this.#produced.set(`${s.partition}:${s.offset}`, s.messageId);
  }

  async produceJunk(partition: number): Promise<void> {
    const ack = await this.#raw!.send({
      topic: DATA,
      partition,
      records: [{ key: Buffer.from('junk'), value: Buffer.from('not an envelope') }],
    });
    this.#junk.add(`${partition}:${ack.baseOffset}`);
  }

  async advance(ms: number): Promise<void> {
    const step = Math.max(1, Math.ceil(ms / 4));
    for (let done = 0; done < ms; done += step) {
      this.scheduler.advance(Math.min(step, ms - done));
      await this.settle();
    }
    await this.settle();
  }

  handlerThrows(n: number): void {
    this.#throwBudget = n;
  }

  failDeadLetterWrite(): void {
    this.cluster.failNextSend(undefined, { topic: DLQ });
  }

  failStateWrite(afterAppend: boolean): void {
    this.cluster.failNextSend(undefined, { topic: STATE, afterAppend });
  }

  failCommit(): void {
    this.cluster.failNextCommit(undefined, { groupId: GROUP });
  }

  rebalance(): void {
    this.cluster.rebalance(GROUP);
  }

  /** The broker is down for `ms` of virtual time (every call fails BROKER_UNAVAILABLE). */
  async brokerOutage(ms: number): Promise<void> {
    this.cluster.setBrokerDown(true);
    try {
      await this.advance(ms);
    } finally {
      this.cluster.setBrokerDown(false);
    }
  }

  /** kill -9 of one live consumer process; a new one starts if none is left. */
  async crash(which: number): Promise<void> {
    const live = this.live();
    const victim = live[which % live.length];
    if (victim !== undefined) {
      victim.alive = false;
      victim.transport.kill();
      this.killed++;
    }
    if (this.live().length === 0) await this.startInstance();
  }

  /** A clean close of one live consumer; a new one starts if none is left. */
  async restart(which: number): Promise<void> {
    const live = this.live();
    const victim = live[which % live.length];
    if (victim !== undefined) {
      await victim.consumer!.close();
      victim.alive = false;
    }
    if (this.live().length === 0) await this.startInstance();
  }

  /**
   * The next hand-out by one live consumer is followed by its member being fenced (the process froze
   * past its session right after the handler got the record; the coordinator gave its partitions to
   * the others), and records are produced to both partitions so that hand-out is inside a batch. The
   * member finds the rest of its batch stale and rejoins holding nothing first (InMemoryCluster
   * fenceMember). Invariant 2 covers it: whoever hands a record out again flags it a redelivery.
   */
  async fenceMidBatch(which: number): Promise<void> {
    const live = this.live();
    const victim = live[which % live.length];
    if (victim !== undefined) this.#fenceAfterHandOut = victim.id;
    await this.produce(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
  }

  #memberIdOf(inst: Instance): string | undefined {
    return this.cluster.memberIds(GROUP).find((m) => m.startsWith(`c${inst.id}-`));
  }

  #fence(inst: Instance): void {
    const id = this.#memberIdOf(inst);
    if (id === undefined || !this.cluster.fenceMember(GROUP, id)) return;
    this.fenced++;
    this.#fencedOut.add(inst.id);
  }

  async directoryChange(): Promise<void> {
    const w = this.#w.world;
    await w.change([w.draft('billing')]);
    await this.#w.directory.refresh();
  }

  // ---- checks ---------------------------------------------------------------------------------

  /** Invariant 5: with the faults over, everything is handed out or dead-lettered (bounded wait). */
  async drain(): Promise<void> {
    this.#throwBudget = 0;
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline) {
      await this.advance(20_000);
      if (this.#undelivered().length === 0 && this.heldForOperator().size === 0) return;
      // A consumer's replay-state load retries on a real timer (≤ maxRetryDelayMs): let it fire.
      await new Promise((r) => setTimeout(r, 10));
    }
    const held = [...this.heldForOperator()];
    this.violations.push(
      `not drained: [${this.#undelivered().join(', ')}] never handled or dead-lettered; ` +
        `partitions held for an operator: [${held.join(', ')}]`,
    );
  }

  /** Partitions a live consumer holds paused for an operator (it alerted REPLAY_STATE_*). */
  heldForOperator(): Set<number> {
    const held = new Set<number>();
    for (const i of this.live())
      for (const at of i.consumer?.refusedPartitions() ?? [])
        if (this.alerts.some((a) => a.instance === i.id && a.partition === at.partition))
          held.add(at.partition);
    return held;
  }

  #undelivered(): string[] {
    this.#refreshDeadLetters();
    const out: string[] = [];
    for (let p = 0; p < PARTITIONS; p++)
      for (const r of this.cluster.records(DATA, p)) {
        const k = `${p}:${r.offset}`;
        if (!this.#handledOk.has(k) && !this.#deadLettered.has(k)) out.push(k);
      }
    return out;
  }

  /** Invariants 2–4 from the hand-out ledger; returns every violation (1 and 5 included). */
  check(): string[] {
    const out = [...this.violations];
    const seen = new Set<string>();
    const lastFirst = new Map<number, bigint>();
    for (const h of this.handOuts) {
      const k = `${h.partition}:${h.offset}`;
      const tag = `hand-out #${this.handOuts.indexOf(h)} of ${k} by c${h.instance}`;
      if (this.#produced.get(k) !== h.messageId)
        out.push(`${tag}: not produced there (or another message)`);
      if (seen.has(k)) {
        if (!h.redelivery) out.push(`${tag}: repeated hand-out not flagged redelivery`);
        continue;
      }
      seen.add(k);
      const o = BigInt(h.offset);
      const before = lastFirst.get(h.partition);
      if (before !== undefined && o < before)
        out.push(`${tag}: first hand-out after first hand-out of ${h.partition}:${before}`);
      lastFirst.set(h.partition, o);
    }
    for (const k of this.#junk) if (this.#handledOk.has(k)) out.push(`junk record ${k} handed out`);
    return out;
  }

  async close(): Promise<void> {
    for (const inst of this.#instances) {
      // Killed ones too: their background timers stop (their calls fail NOT_CONNECTED meanwhile).
      inst.alive = false;
      await Promise.race([
        inst.consumer?.close().catch(() => undefined),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      inst.transport.kill();
    }
    await this.#producer?.close().catch(() => undefined);
  }
}

// ---- fast-check commands --------------------------------------------------------------------

interface Model {
  live: number;
}

type Cmd = fc.AsyncCommand<Model, ConsumerModelRun>;

const command = (
  name: string,
  run: (r: ConsumerModelRun, m: Model) => Promise<void> | void,
  check: (m: Model) => boolean = () => true,
): Cmd => ({
  check,
  async run(m, r) {
    await run(r, m);
    await r.settle();
  },
  toString: () => name,
});

/**
 * Commands left out of `npm test` and of the default fuzz run because they reach a known consumer
 * defect (the invariant is kept as it is; `--full` runs them anyway). None today: `restart` was left
 * out until a clean close() kept the redelivery flag of a record whose handler threw
 * ([handlerThrows(1), produce(k0), restart(0)], test/unit/model/consumer-model-regressions.test.ts).
 */
export const KNOWN_DEFECT_EXCLUDES: readonly string[] = [];

/** The command set. `exclude` leaves commands out by name. */
export function consumerCommands(exclude: readonly string[] = []): fc.Arbitrary<Cmd>[] {
  const all: [string, fc.Arbitrary<Cmd>][] = [
    [
      'produce',
      fc
        .array(fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5'), { minLength: 1, maxLength: 4 })
        .map((keys) => command(`produce(${keys.join(',')})`, (r) => r.produce(keys))),
    ],
    [
      'produceJunk',
      fc
        .integer({ min: 0, max: PARTITIONS - 1 })
        .map((p) => command(`junk(${p})`, (r) => r.produceJunk(p))),
    ],
    [
      'advance',
      fc
        .constantFrom(0, 60, 600, 2500)
        .map((ms) => command(`advance(${ms})`, (r) => r.advance(ms))),
    ],
    [
      'handlerThrows',
      fc
        .integer({ min: 1, max: 3 })
        .map((n) => command(`handlerThrows(${n})`, (r) => r.handlerThrows(n))),
    ],
    [
      'failDeadLetterWrite',
      fc.constant(command('failDeadLetterWrite', (r) => r.failDeadLetterWrite())),
    ],
    [
      'failStateWrite',
      fc
        .boolean()
        .map((after) =>
          command(`failStateWrite(afterAppend=${after})`, (r) => r.failStateWrite(after)),
        ),
    ],
    ['failCommit', fc.constant(command('failCommit', (r) => r.failCommit()))],
    ['rebalance', fc.constant(command('rebalance', (r) => r.rebalance()))],
    [
      'brokerOutage',
      fc
        .constantFrom(100, 1500)
        .map((ms) => command(`brokerOutage(${ms})`, (r) => r.brokerOutage(ms))),
    ],
    [
      'join',
      fc.constant(
        command(
          'join',
          async (r, m) => {
            await r.startInstance();
            m.live = r.live().length;
          },
          (m) => m.live < 2,
        ),
      ),
    ],
    [
      'crash',
      fc.nat(1).map((i) =>
        command(`crash(${i})`, async (r, m) => {
          await r.crash(i);
          m.live = r.live().length;
        }),
      ),
    ],
    [
      'restart',
      fc.nat(1).map((i) =>
        command(`restart(${i})`, async (r, m) => {
          await r.restart(i);
          m.live = r.live().length;
        }),
      ),
    ],
    ['directoryChange', fc.constant(command('directoryChange', (r) => r.directoryChange()))],
    [
      'fenceMidBatch',
      fc.nat(1).map((i) => command(`fenceMidBatch(${i})`, (r) => r.fenceMidBatch(i))),
    ],
  ];
  // Producing and letting time pass are drawn more often than each fault (fast-check picks the
  // listed arbitraries uniformly): most sequences then carry records through the faults.
  const weight: Readonly<Record<string, number>> = { produce: 4, advance: 2 };
  return all
    .filter(([name]) => !exclude.includes(name))
    .flatMap(([name, arb]) => Array.from({ length: weight[name] ?? 1 }, () => arb));
}

/** What the runs exercised (so a test can show its sequences reached the interesting paths). */
export interface ModelStats {
  runs: number;
  handOuts: number;
  redeliveries: number;
  commits: number;
  deadLetters: number;
  /** Runs in which two consumers were members at once. */
  twoMemberRuns: number;
  /** Runs in which a consumer was killed. */
  killRuns: number;
  /** Runs in which a member was fenced mid-batch. */
  fenceRuns: number;
  /** Runs that ended with a partition held for an operator (REPLAY_STATE_* alert). */
  heldForOperatorRuns: number;
}

export function emptyStats(): ModelStats {
  return {
    runs: 0,
    handOuts: 0,
    redeliveries: 0,
    commits: 0,
    deadLetters: 0,
    twoMemberRuns: 0,
    killRuns: 0,
    fenceRuns: 0,
    heldForOperatorRuns: 0,
  };
}

/** One property run: a fresh cluster and consumer, the commands, the drain, the invariants. */
export async function runConsumerModel(
  world: ModelWorld,
  commands: Iterable<Cmd>,
  stats?: ModelStats,
): Promise<void> {
  const run = new ConsumerModelRun(world);
  try {
    await run.start();
    await fc.asyncModelRun(() => ({ model: { live: 1 }, real: run }), commands);
    await run.drain();
    if (stats !== undefined) {
      stats.runs++;
      stats.handOuts += run.handOuts.length;
      stats.redeliveries += run.handOuts.filter((h) => h.redelivery).length;
      stats.commits += run.cluster.commitLog(GROUP).filter((c) => c.topic === DATA).length;
      stats.deadLetters += run.cluster.records(DLQ, 0).length;
      if (run.maxLive > 1) stats.twoMemberRuns++;
      if (run.killed > 0) stats.killRuns++;
      if (run.fenced > 0) stats.fenceRuns++;
      if (run.heldForOperator().size > 0) stats.heldForOperatorRuns++;
    }
    const violations = run.check();
    if (violations.length > 0)
      throw new Error(`consumer model invariants broken:\n${violations.join('\n')}`);
  } finally {
    await run.close();
  }
}

/** The property over command sequences (at most `maxCommands` each). */
export function consumerModelProperty(
  world: ModelWorld,
  options: {
    readonly maxCommands: number;
    readonly exclude?: readonly string[];
    readonly stats?: ModelStats;
  },
) {
  return fc.asyncProperty(
    fc.commands(consumerCommands(options.exclude), { maxCommands: options.maxCommands }),
    (cmds) => runConsumerModel(world, cmds, options.stats),
  );
}
