/**
 * The live services of docs/OPERATIONS.md, for running its procedures as tests (#21 deliverable 1):
 * the guide's environment (local stack, OpenBao Transit as the KMS, a temporary SEALPOST_KEYS_DIR),
 * keys and directory made by the guide's own steps 1–3, then
 *
 *  - a producer (`orders`) sending at a steady rate, recording every acknowledged message id;
 *  - a consumer (`billing`) recording every hand-out and every alert;
 *  - the audit worker and the dead-letter worker as child processes (workers/<name>/main.ts), built
 *    from the same environment, with their `/healthz` polled;
 *
 * the producer and the consumer built from that environment by src/app/compose.ts, as the CLI and
 * the workers build theirs. `checkLedger()` is the invariant every procedure test ends with.
 *
 * The guide names its topics (`orders`, `sealpost.metadata`, `sealpost.directory`); the shared stack
 * needs fresh names per test, so `guide(step)` renames exactly those topic names in the guide's
 * commands and changes nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import {
  buildKms,
  buildRegistry,
  buildTransport,
  identitySourceOf,
  suitePolicyOf,
  openServiceKeys,
} from '../../src/app/compose.js';
import { loadConfig, type SealpostConfig } from '../../src/config/config.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import type { Transport } from '../../src/kafka/transport.js';
import { MetadataEventEmitter } from '../../src/pipeline/metadata-event-emitter.js';
import { SealedConsumer, type SealedConsumerOptions } from '../../src/pipeline/sealed-consumer.js';
import {
  SealedProducer,
  type SealedProducerOptions,
  type SentMessage,
} from '../../src/pipeline/sealed-producer.js';
import { systemClock } from '../../src/runtime/clock.js';
import { runCli, type CliRun } from './run-cli.js';
import { getEndpoints } from './endpoints.js';
import { BaoAdmin } from './openbao-process.js';
import { guideSectionCommands, guideStepCommands } from './operations-guide.js';
import { ORDER_SCHEMA } from './pipeline-world.js';
import {
  createTopics,
  freshTopic,
  testLogger,
  testTransport,
  waitFor,
  waitForCommitted,
} from './test-transport.js';

const REPO = join(import.meta.dirname, '../..');
/** The dead-letter worker's consumer group (workers/dlq/main.ts takes the default). */
const DLQ_WORKER_GROUP = 'sealpost-dlq-worker';

export type WorkerName = 'audit' | 'dlq';

/** The topics of one scenario: the guide's names on the left, fresh ones on the right. */
export interface ScenarioTopics {
  readonly orders: string;
  readonly metadata: string;
  readonly directory: string;
  readonly dlq: string;
  readonly state: string;
  readonly checkpoint: string;
}

export interface QuarantinedRow {
  readonly id: number;
  readonly reason: string;
  readonly status: string;
  readonly sourceTopic: string | null;
  readonly sourcePartition: number | null;
  readonly sourceOffset: string | null;
  readonly attempt: number | null;
}

export interface LiveServicesOptions {
  /** Time between two sends of the steady producer. Default 50 ms. */
  readonly sendIntervalMs?: number;
  /** Options of the steady producer (e.g. a short `maxSessionAgeMs` so new sessions open often). */
  readonly producer?: Partial<SealedProducerOptions>;
}

export interface LedgerExpectation {
  /**
   * The dead letters the procedure should produce besides refused acknowledged records (compared as
   * a multiset of reasons).
   */
  readonly deadLetterReasons?: readonly string[];
  /**
   * Acknowledged records the procedure may make consumers refuse (e.g. a revoked sender's): each
   * acknowledged record not handed out must be in quarantine with this reason (matched by partition
   * and offset), and none of those may also have been handed out.
   */
  readonly refusedReason?: string;
  /**
   * Metadata records (sealed events) the audit worker may refuse with `refusedReason` (e.g. a revoked
   * sender's last events): accepted as dead letters besides `deadLetterReasons`.
   */
  readonly refusedMetadata?: boolean;
  /** Consumer alert codes the procedure may raise (any other fails). */
  readonly alerts?: readonly string[];
  /** Producer send error codes the procedure may cause (any other fails). */
  readonly sendErrors?: readonly string[];
  /** Error codes of stopping a service the procedure may cause (any other fails). */
  readonly closeErrors?: readonly string[];
}

export interface LedgerReport {
  readonly acked: number;
  readonly handedOut: number;
  /** Acknowledged records refused by the consumer (with `refusedReason`). */
  readonly refused: number;
  readonly deadLetters: readonly QuarantinedRow[];
}

interface RunningProducer {
  stop(): Promise<void>;
}
interface RunningConsumer {
  stop(): Promise<void>;
  /** Sends the metadata events the consumer has queued (its `opened` events). */
  flushEvents(): Promise<void>;
  /** The epoch of the directory the consumer's service holds. */
  directoryEpoch(): number;
}
interface RunningWorker {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<number | null>;
  output(): string;
}

/** The scenario fixture: the guide's environment, its services, the ledger. */
export class LiveServices {
  readonly env: Record<string, string>;
  readonly topics: ScenarioTopics;
  readonly consumerGroup: string;
  /** Acknowledged message ids, in send order. */
  readonly acked: string[] = [];
  /** What the producer had acknowledged, in send order (partition, offset, createdAtMs). */
  readonly sent: SentMessage[] = [];
  /** messageId → hand-outs to the consumer's handler. */
  readonly handedOut = new Map<string, number>();
  /** messageId → when it was first handed out (ms since the epoch). */
  readonly handedOutAtMs = new Map<string, number>();
  readonly alerts: string[] = [];
  readonly sendErrors: string[] = [];
  /** Error codes of stopping a service (e.g. metadata events it could not flush). */
  readonly closeErrors: string[] = [];
  /** For each close error: the service and its cause (code and message), to say what failed. */
  readonly closeErrorCauses: string[] = [];
  readonly #dir: string;
  readonly #transport: Transport;
  readonly #crypto: CryptoProvider;
  readonly #workers = new Map<WorkerName, RunningWorker>();
  #producer: RunningProducer | undefined;
  #consumer: RunningConsumer | undefined;
  readonly #sendIntervalMs: number;
  readonly #producerOptions: Partial<SealedProducerOptions>;

  private constructor(
    dir: string,
    env: Record<string, string>,
    topics: ScenarioTopics,
    crypto: CryptoProvider,
    options: LiveServicesOptions,
  ) {
    this.#dir = dir;
    this.env = env;
    this.topics = topics;
    this.consumerGroup = `billing-${topics.orders}`;
    this.#transport = testTransport('live-services');
    this.#crypto = crypto;
    this.#sendIntervalMs = options.sendIntervalMs ?? 50;
    this.#producerOptions = options.producer ?? {};
  }

  /**
   * The guide's environment with fresh topics and a fresh Transit key, the topics created, and the
   * guide's steps 1–3 run as written (authority, identities, directory on the topic). Nothing runs yet.
   */
  static async prepare(purpose: string, options: LiveServicesOptions = {}) {
    const e = getEndpoints();
    const admin = new BaoAdmin(e.vaultAddr, e.vaultToken);
    await admin.ensureTransit();
    const transitKey = `test-guide-${purpose}-${randomBytes(4).toString('hex')}`;
    await admin.createTransitKey(transitKey);
    const dir = await mkdtemp(join(tmpdir(), `sealpost-guide-${purpose}-`));
    const topics: ScenarioTopics = {
      orders: freshTopic(`${purpose}-orders`),
      metadata: freshTopic(`${purpose}-metadata`),
      directory: freshTopic(`${purpose}-directory`),
      dlq: freshTopic(`${purpose}-dlq`),
      state: freshTopic(`${purpose}-state`),
      checkpoint: freshTopic(`${purpose}-checkpoints`),
    };
    const env: Record<string, string> = {
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
      VAULT_ADDR: e.vaultAddr,
      VAULT_TOKEN: e.vaultToken,
      VAULT_TRANSIT_KEY: transitKey,
      SEALPOST_KMS: 'vault',
      SEALPOST_KEYS_DIR: join(dir, 'keys'),
      SEALPOST_DIRECTORY_TOPIC: topics.directory,
      SEALPOST_METADATA_TOPIC: topics.metadata,
      SEALPOST_DEAD_LETTER_TOPIC: topics.dlq,
      SEALPOST_STATE_TOPIC: topics.state,
      SEALPOST_CHECKPOINT_TOPIC: topics.checkpoint,
      SEALPOST_AUDIT_DB: join(dir, 'audit.db'),
      SEALPOST_QUARANTINE_DB: join(dir, 'quarantine.db'),
      SEALPOST_HTTP_PORT: '0',
      SEALPOST_LOG_LEVEL: 'warn',
      SEALPOST_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };
    const live = new LiveServices(dir, env, topics, await createCryptoProvider(), options);
    await createTopics(live.#transport, [
      { topic: topics.orders, numPartitions: 2 },
      { topic: topics.metadata },
      { topic: topics.dlq },
      { topic: topics.state, compacted: true },
      { topic: topics.checkpoint, configs: { 'retention.ms': '-1' } },
    ]);
    const [authority, ...rest] = live.guide('1');
    const out = await live.mustRun(authority!);
    const pin = /export SEALPOST_AUTHORITY_PUBLIC_KEY=([0-9a-f]{64})/.exec(out);
    if (pin === null) throw new Error(`keys init-authority printed no key to pin: ${out}`);
    env.SEALPOST_AUTHORITY_PUBLIC_KEY = pin[1]!;
    for (const argv of [...rest, ...live.guide('2'), ...live.guide('3')]) await live.mustRun(argv);
    return live;
  }

  /** The guide's step (or procedure) commands, with the guide's topic names renamed to this scenario's. */
  guide(step: string): string[][] {
    return renameTopics(guideStepCommands(step), this.#renames());
  }

  /** The `n`-th sh block of the guide's section `## <section>`, topics renamed as in `guide()`. */
  guideSection(section: string, n: number): string[][] {
    return renameTopics(guideSectionCommands(section, n), this.#renames());
  }

  #renames(): Record<string, string> {
    return {
      orders: this.topics.orders,
      'sealpost.metadata': this.topics.metadata,
      'sealpost.directory': this.topics.directory,
    };
  }

  /** Runs the CLI with the guide's environment. */
  cli(argv: readonly string[]): Promise<CliRun> {
    return runCli(argv, this.env);
  }

  async mustRun(argv: readonly string[]): Promise<string> {
    const r = await this.cli(argv);
    if (r.code !== 0) throw new Error(`sealpost ${argv.join(' ')} exited ${r.code}: ${r.err}`);
    return r.out;
  }

  /** Starts the consumer, both workers and the producer (in that order), each once healthy. */
  async startAll(): Promise<void> {
    await this.startConsumer();
    await Promise.all([this.startWorker('audit'), this.startWorker('dlq')]);
    await this.startProducer();
  }

  /** The configuration one service gets: the guide's environment plus its identity file. */
  config(identity: string, extra: Record<string, string> = {}): SealpostConfig {
    return loadConfig(
      {
        ...this.env,
        SEALPOST_IDENTITY_FILE: join(this.env.SEALPOST_KEYS_DIR!, `${identity}.json`),
        SEALPOST_DIRECTORY_STATE_FILE: this.#directoryStateFile(identity),
        ...extra,
      },
      { cwd: REPO },
    );
  }

  /**
   * Seals and sends one record to the orders topic as `identity`, with its own producer built from the
   * guide's environment plus `extraEnv` (e.g. another directory source); returns what was acknowledged.
   */
  async sendOnceAs(identity: string, extraEnv: Record<string, string> = {}): Promise<SentMessage> {
    const s = await this.#service(identity, extraEnv);
    const producer = new SealedProducer({
      transport: s.transport,
      registry: s.registry,
      crypto: this.#crypto,
      clock: systemClock,
      identity: s.keys.identity,
      directory: s.keys.directory,
      valueSchemas: { [this.topics.orders]: ORDER_SCHEMA },
    });
    await producer.connect();
    try {
      const [sent] = await producer.send({
        topic: this.topics.orders,
        messages: [{ key: identity, value: { id: `${identity}-1`, cents: 1, note: '' } }],
      });
      return sent!;
    } finally {
      await producer.close();
      await s.close();
    }
  }

  /** Writes raw bytes (not a sealpost envelope) to a partition of the orders topic; returns the offset. */
  async sendRaw(partition: number, value: Buffer): Promise<string> {
    const producer = this.#transport.producer();
    await producer.connect();
    try {
      const ack = await producer.send({
        topic: this.topics.orders,
        partition,
        records: [{ key: null, value }],
      });
      return ack.baseOffset;
    } finally {
      await producer.disconnect();
    }
  }

  /** A service's keys, Kafka transport and metadata-event emitter, built the way the workers build theirs. */
  async #service(identity: string, extraEnv: Record<string, string> = {}) {
    const config = this.config(identity, extraEnv);
    const kms = await buildKms(config, { crypto: this.#crypto, clock: systemClock });
    const keys = await openServiceKeys(config, { crypto: this.#crypto, clock: systemClock, kms });
    const transport = buildTransport(config, {
      logger: testLogger,
      clock: systemClock,
      clientId: `sealpost-${identity}`,
    });
    const registry = buildRegistry(config);
    const eventsProducer = new SealedProducer({
      transport,
      registry,
      crypto: this.#crypto,
      clock: systemClock,
      identity: keys.identity,
      directory: keys.directory,
      // Built as createSealpost builds every producer of a service: it signs with the service's key,
      // so after a rotation of that key it reloads the identity file (else SENDER_KEY_RETIRED).
      identitySource: identitySourceOf(config, { crypto: this.#crypto, kms }),
    });
    await eventsProducer.connect();
    const events = new MetadataEventEmitter({
      producer: eventsProducer,
      topic: config.metadataTopic,
      crypto: this.#crypto,
      clock: systemClock,
      actor: identity,
      flushIntervalMs: 200,
    });
    return {
      config,
      kms,
      keys,
      transport,
      registry,
      events,
      close: async () => {
        // A service whose key was revoked cannot seal its last events: recorded, checked by the ledger.
        await events.close().catch((err: unknown) => {
          this.closeErrors.push((err as { code?: string }).code ?? String(err));
          // The cause (a typed error's code and message, never a payload) names what failed.
          const cause = (err as { cause?: { code?: string; message?: string } }).cause;
          this.closeErrorCauses.push(`${identity}: ${cause?.code ?? ''} ${cause?.message ?? ''}`);
        });
        await eventsProducer.close();
        keys.close();
        await kms.close();
      },
    };
  }

  /** The `orders` producer: one record per send interval to the orders topic, every ack recorded. */
  async startProducer(): Promise<void> {
    if (this.#producer !== undefined) throw new Error('the producer is already running');
    const s = await this.#service('orders');
    const producer = new SealedProducer({
      transport: s.transport,
      registry: s.registry,
      crypto: this.#crypto,
      clock: systemClock,
      identity: s.keys.identity,
      directory: s.keys.directory,
      valueSchemas: { [this.topics.orders]: ORDER_SCHEMA },
      events: s.events,
      // As the guide says a running producer is built: it reloads its rotated identity file.
      identitySource: identitySourceOf(s.config, { crypto: this.#crypto, kms: s.kms }),
      // The topic's suite policy from SEALPOST_SUITE_POLICY ("Post-quantum sealing").
      suitePolicy: suitePolicyOf(s.config),
      ...this.#producerOptions,
    });
    await producer.connect();
    let running = true;
    let wake: (() => void) | undefined;
    let n = this.acked.length + this.sendErrors.length;
    const loop = (async () => {
      while (running) {
        const i = n++;
        try {
          const [sent] = await producer.send({
            topic: this.topics.orders,
            messages: [{ key: `c${i % 5}`, value: { id: `o${i}`, cents: i, note: '' } }],
          });
          this.acked.push(sent!.messageId);
          this.sent.push(sent!);
        } catch (err) {
          this.sendErrors.push((err as { code?: string }).code ?? String(err));
        }
        // The steady rate: the next send one interval later (or at once when stopping).
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, this.#sendIntervalMs);
        });
      }
    })();
    this.#producer = {
      stop: async () => {
        running = false;
        wake?.();
        await loop;
        await producer.close();
        await s.close();
      },
    };
  }

  async stopProducer(): Promise<void> {
    await this.#producer?.stop();
    this.#producer = undefined;
  }

  /** The `billing` consumer of the orders topic, recording hand-outs and alerts. */
  async startConsumer(): Promise<void> {
    if (this.#consumer !== undefined) throw new Error('the consumer is already running');
    const s = await this.#service('billing');
    const options: SealedConsumerOptions = {
      transport: s.transport,
      registry: s.registry,
      crypto: this.#crypto,
      clock: systemClock,
      identity: s.keys.identity,
      directory: s.keys.directory,
      kms: s.kms,
      groupId: this.consumerGroup,
      topics: [this.topics.orders],
      stateTopic: s.config.stateTopic,
      deadLetterTopic: s.config.deadLetterTopic,
      fromBeginning: true,
      events: s.events,
      // As the guide says a running consumer is built: it reloads its rotated identity file.
      identitySource: identitySourceOf(s.config, { crypto: this.#crypto, kms: s.kms }),
      suitePolicy: suitePolicyOf(s.config),
      onAlert: (a) => this.alerts.push(a.code),
      consumerOptions: {
        sessionTimeoutMs: s.config.consumerSessionTimeoutMs,
        retryInitialDelayMs: 100,
        retryMaxDelayMs: 2000,
      },
    };
    const consumer = new SealedConsumer(options);
    await consumer.run({
      eachMessage: (d) => {
        this.handedOut.set(d.messageId, (this.handedOut.get(d.messageId) ?? 0) + 1);
        if (!this.handedOutAtMs.has(d.messageId)) this.handedOutAtMs.set(d.messageId, Date.now());
        return Promise.resolve();
      },
    });
    this.#consumer = {
      stop: async () => {
        await consumer.close();
        await s.close();
      },
      flushEvents: () => s.events.flush(),
      directoryEpoch: () => s.keys.directory.epoch,
    };
  }

  /**
   * Resolves once the consumer has handed out `messageId` and sent its `opened` event (emitted as the
   * handler returns, then queued until the emitter's next flush, which this forces).
   */
  async consumerEventsSentFor(messageId: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(() => this.handedOut.has(messageId), `${messageId} handed out`, timeoutMs);
    if (this.#consumer === undefined) throw new Error('the consumer is not running');
    await this.#consumer.flushEvents();
  }

  /** Waits for the running producer's next acknowledgement and returns its message id. */
  async nextAcked(what: string, timeoutMs = 60_000): Promise<string> {
    const at = this.acked.length;
    await waitFor(() => this.acked.length > at || this.sendErrors.length > 0, what, timeoutMs);
    if (this.acked.length <= at)
      throw new Error(`${what}: the producer failed (${this.sendErrors[0]})`);
    return this.acked[at]!;
  }

  /** The epoch of the directory the running consumer's service holds. */
  consumerDirectoryEpoch(): number {
    if (this.#consumer === undefined) throw new Error('the consumer is not running');
    return this.#consumer.directoryEpoch();
  }

  async stopConsumer(): Promise<void> {
    await this.#consumer?.stop();
    this.#consumer = undefined;
  }

  /** Starts workers/<name>/main.ts as a process with the guide's environment; resolves once it is ready. */
  async startWorker(name: WorkerName): Promise<number> {
    if (this.#workers.has(name)) throw new Error(`the ${name} worker is already running`);
    const identity = name === 'audit' ? { SEALPOST_IDENTITY_FILE: this.#keyFile('audit') } : {};
    // One directory state file per service (docs/OPERATIONS.md "Directory state").
    const state = { SEALPOST_DIRECTORY_STATE_FILE: this.#directoryStateFile(`${name}-worker`) };
    const child = spawn(process.execPath, ['--import', 'tsx', `workers/${name}/main.ts`], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...this.env,
        ...identity,
        ...state,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const label = name === 'audit' ? 'sealpost-audit-worker' : 'sealpost-dlq-worker';
    const port = await new Promise<number>((resolve, reject) => {
      const onData = (): void => {
        const m = new RegExp(`${label} ready port=(\\d+)`).exec(out);
        if (m) resolve(Number(m[1]));
      };
      child.stdout.on('data', onData);
      void exited.then((code) =>
        reject(new Error(`${label} exited (${code}) before it was ready: ${out.slice(-1500)}`)),
      );
    });
    this.#workers.set(name, { child, port, exited, output: () => out });
    return port;
  }

  /** Stops a worker with SIGTERM, as an operator (or a supervisor) does; returns its exit code. */
  async stopWorker(name: WorkerName): Promise<number | null> {
    const w = this.#workers.get(name);
    if (w === undefined) return null;
    this.#workers.delete(name);
    w.child.kill('SIGTERM');
    return w.exited;
  }

  workerOutput(name: WorkerName): string {
    return this.#workers.get(name)?.output() ?? '';
  }

  /** `GET /healthz` of a running worker: the status code. */
  async health(name: WorkerName): Promise<number> {
    const w = this.#workers.get(name);
    if (w === undefined) throw new Error(`the ${name} worker is not running`);
    const res = await fetch(`http://127.0.0.1:${w.port}/healthz`);
    await res.arrayBuffer();
    return res.status;
  }

  /** `GET /metrics` of a running worker. */
  async metrics(name: WorkerName): Promise<string> {
    const w = this.#workers.get(name);
    if (w === undefined) throw new Error(`the ${name} worker is not running`);
    return (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
  }

  #directoryStateFile(service: string): string {
    return join(this.#dir, `${service}-directory-state.json`);
  }

  #keyFile(identity: string): string {
    return join(this.env.SEALPOST_KEYS_DIR!, `${identity}.json`);
  }

  /** Waits until the consumer handed out `n` more distinct records than now (a positive signal of traffic). */
  async waitForHandOuts(n: number, what: string, timeoutMs = 60_000): Promise<void> {
    const target = this.handedOut.size + n;
    await waitFor(() => this.handedOut.size >= target, what, timeoutMs);
  }

  /** Waits until `group` committed every record of `topic` written so far. */
  async waitForGroupAtEnd(group: string, topic: string, timeoutMs = 90_000): Promise<void> {
    const admin = this.#transport.admin();
    await admin.connect();
    let ends: Record<number, bigint>;
    try {
      ends = Object.fromEntries(
        (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]),
      );
    } finally {
      await admin.disconnect();
    }
    await waitForCommitted(this.#transport, group, topic, ends, timeoutMs);
  }

  /** The quarantine store's rows (read-only), every status. */
  quarantined(): QuarantinedRow[] {
    let db: Database.Database;
    try {
      db = new Database(this.env.SEALPOST_QUARANTINE_DB, { readonly: true, fileMustExist: true });
    } catch {
      return [];
    }
    try {
      return (
        db
          .prepare(
            'SELECT id, reason, status, source_topic AS sourceTopic, source_partition AS sourcePartition, source_offset AS sourceOffset, attempt FROM quarantine ORDER BY id',
          )
          .all() as QuarantinedRow[]
      ).map((r) => ({ ...r }));
    } finally {
      db.close();
    }
  }

  /**
   * The invariant every procedure ends with. Stops the producer, then waits for positive signals:
   * the consumer committed the whole orders topic and the dead-letter worker the whole dead-letter
   * topic. Then: every acknowledged id was handed out at least once (or refused, when the procedure
   * may refuse it); the dead letters are exactly the expected ones; both workers answer `/healthz` 200; no alert or send error but the expected ones.
   */
  async checkLedger(expected: LedgerExpectation = {}): Promise<LedgerReport> {
    await this.stopProducer();
    await this.waitForGroupAtEnd(this.consumerGroup, this.topics.orders);
    await this.waitForGroupAtEnd(DLQ_WORKER_GROUP, this.topics.dlq);
    const rows = this.quarantined();
    const acked = new Map(this.sent.map((m) => [`${m.partition}:${m.offset}`, m.messageId]));
    const refused = rows.filter(
      (r) =>
        r.reason === expected.refusedReason &&
        r.sourceTopic === this.topics.orders &&
        acked.has(`${r.sourcePartition}:${r.sourceOffset}`),
    );
    const refusedIds = new Set(
      refused.map((r) => acked.get(`${r.sourcePartition}:${r.sourceOffset}`)!),
    );
    const missing = this.acked.filter((id) => !this.handedOut.has(id) && !refusedIds.has(id));
    expect(missing, 'acknowledged but neither handed out nor refused').toEqual([]);
    expect(
      [...refusedIds].filter((id) => this.handedOut.has(id)),
      'refused and handed out',
    ).toEqual([]);
    const refusedEvents = rows.filter(
      (r) =>
        expected.refusedMetadata === true &&
        r.reason === expected.refusedReason &&
        r.sourceTopic === this.topics.metadata,
    );
    expect(
      rows
        .filter((r) => !refused.includes(r) && !refusedEvents.includes(r))
        .map((d) => d.reason)
        .sort(),
    ).toEqual([...(expected.deadLetterReasons ?? [])].sort());
    for (const w of ['audit', 'dlq'] as const) {
      expect(await this.health(w), `${w} worker /healthz\n${this.workerOutput(w)}`).toBe(200);
    }
    const allowedAlerts = new Set(expected.alerts ?? []);
    expect(this.alerts.filter((a) => !allowedAlerts.has(a))).toEqual([]);
    const allowedErrors = new Set(expected.sendErrors ?? []);
    expect(this.sendErrors.filter((e) => !allowedErrors.has(e))).toEqual([]);
    const allowedCloseErrors = new Set(expected.closeErrors ?? []);
    expect(
      this.closeErrors.filter((e) => !allowedCloseErrors.has(e)),
      this.closeErrorCauses.join('; '),
    ).toEqual([]);
    return {
      acked: this.acked.length,
      handedOut: this.handedOut.size,
      refused: refusedIds.size,
      deadLetters: rows,
    };
  }

  /** Stops everything that runs and removes the scenario's files. */
  async close(): Promise<void> {
    await this.stopProducer().catch(() => undefined);
    await this.stopConsumer().catch(() => undefined);
    for (const name of [...this.#workers.keys()]) {
      const w = this.#workers.get(name)!;
      this.#workers.delete(name);
      w.child.kill('SIGKILL');
      await w.exited;
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * The guide's commands with its topic names replaced: the value of `--topic`, and the topic lists of
 * `--grant NAME:send=…:receive=…` (identity names and everything else are left as written).
 */
export function renameTopics(
  commands: readonly (readonly string[])[],
  renames: Readonly<Record<string, string>>,
): string[][] {
  const topic = (t: string): string => renames[t] ?? t;
  return commands.map((argv) =>
    argv.map((arg, i) => {
      const flag = argv[i - 1];
      if (flag === '--topic') return topic(arg);
      if (flag === '--grant') {
        const [name, ...perms] = arg.split(':');
        return [
          name,
          ...perms.map((p) => {
            const [what, list] = p.split('=');
            if (list === undefined || what === 'detokenize') return p;
            return `${what}=${list.split(',').map(topic).join(',')}`;
          }),
        ].join(':');
      }
      return arg;
    }),
  );
}
