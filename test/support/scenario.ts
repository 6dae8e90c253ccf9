/**
 * One scenario fixture for the integration tests: the world (authority, service identities, signed
 * directory, registry client, local KMS), a transport on the stack, fresh topics (data topics, dead
 * letters, compacted replay state, metadata, audit checkpoints), producer, consumer and
 * metadata-emitter factories, consumer child processes with their ledgers, and one teardown that
 * closes everything it handed out.
 *
 *     const sc = useScenario({ purpose: 'pipe-crash', partitions: 2, producer: true });
 *     const { topic, t } = sc; // names are known at once; the world exists from beforeAll on
 *
 * `useScenario` registers the beforeAll that builds the scenario and the afterAll that tears it down;
 * `scenario(options)` builds one inside a test and leaves `teardown()` to the caller.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Transport, TopicSpec } from '../../src/kafka/transport.js';
import { writeDirectoryDocument } from '../../src/keys/directory/directory-document.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import {
  MetadataEventEmitter,
  type MetadataEventEmitterOptions,
} from '../../src/pipeline/metadata-event-emitter.js';
import type { SealedProducerOptions } from '../../src/pipeline/sealed-producer.js';
import { systemClock } from '../../src/runtime/clock.js';
import {
  startConsumer,
  startProducer,
  type TestConsumer,
  type TestProducer,
} from './pipeline-parties.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
  type ServiceSpec,
} from './pipeline-world.js';
import { createTopics, freshTopic, testTransport } from './test-transport.js';

/** A data topic: its purpose (a part of its fresh name) and how it is created. */
export interface DataTopicSpec {
  readonly purpose: string;
  /** Default: the scenario's `partitions`. */
  readonly partitions?: number;
  /** Default: the scenario's `compacted`. */
  readonly compacted?: boolean;
}

/** The topic names of a scenario, known before anything is built. */
export interface ScenarioNames {
  /** The data topics, in the order given. */
  readonly topics: readonly string[];
  /** The dead-letter, replay-state and metadata topics (created only as the options say). */
  readonly t: { readonly dlq: string; readonly state: string; readonly metadata: string };
  /** An audit checkpoint topic name (created only with `checkpointTopic`). */
  readonly checkpoints: string;
}

export interface ScenarioOptions {
  /** A part of every topic name, and the transport's client id unless `clientId` is given. */
  readonly purpose: string;
  readonly clientId?: string;
  /** Use this transport instead of a new one on the stack's PLAINTEXT listener (topics are created with it). */
  readonly transport?: Transport;
  /** The service that sends to the data topics (default `orders`). */
  readonly sender?: string;
  /** The services that receive the data topics (default `['billing']`). */
  readonly recipients?: readonly string[];
  /**
   * The identities of the world. Given the names and the default list (the sender sending to, and the
   * recipients receiving, the data topics), returns the list to build; default: the default list.
   */
  readonly services?: (names: ScenarioNames, defaults: readonly ServiceSpec[]) => ServiceSpec[];
  /** How many data topics (default 1, named after `purpose`), or their purposes. */
  readonly topics?: number | readonly (string | DataTopicSpec)[];
  /** Partitions of each data topic (default: the broker's default). */
  readonly partitions?: number;
  /** The data topics are compacted. */
  readonly compacted?: boolean;
  /** Create the dead-letter and (compacted) replay-state topics (default true). */
  readonly pipelineTopics?: boolean;
  /** Create the metadata topic (`true`, or its partition count). */
  readonly metadataTopic?: boolean | number;
  /** Create the audit checkpoint topic (`'retained'`: with `retention.ms=-1`). */
  readonly checkpointTopic?: boolean | 'retained';
  /** Start the sender's producer (Order schema on every data topic) as `scenario.orders`. */
  readonly producer?: boolean | Partial<SealedProducerOptions>;
}

/** `services` for the audit scenarios: `orders` sends metadata events, `audit` receives them. */
export function metadataToAudit(names: ScenarioNames): ServiceSpec[] {
  return [
    { name: 'orders', send: [names.t.metadata], receive: [] },
    { name: 'audit', send: [], receive: [names.t.metadata] },
  ];
}

/** `services` with metadata events: every default service also sends them; `audit` receives them. */
export function withMetadataToAudit(
  names: ScenarioNames,
  defaults: readonly ServiceSpec[],
): ServiceSpec[] {
  return [
    ...defaults.map((s) => ({ ...s, send: [...s.send, names.t.metadata] })),
    { name: 'audit', send: [], receive: [names.t.metadata] },
  ];
}

/** `services` for the quarantine scenarios: the defaults, the audit identity and the dead-letter worker's. */
export function withAuditAndDeadLetterWorker(
  names: ScenarioNames,
  defaults: readonly ServiceSpec[],
): ServiceSpec[] {
  return [
    ...defaults,
    { name: 'audit', send: [], receive: [names.t.metadata] },
    { name: 'dead-letter-worker', send: [], receive: [] },
  ];
}

/** One line of a consumer child's ledger (test/support/pipeline-consumer-child.ts). */
export interface ChildLedgerLine {
  readonly offset: bigint;
  readonly partition: number;
  readonly id: string;
  readonly redelivery: boolean;
}

/** Reads a consumer child's ledger: `offset partition messageId r|n` a line (alerts left out). */
export function readChildLedger(out: string): ChildLedgerLine[] {
  if (!existsSync(out)) return [];
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => /^\d+ \d+ [0-9a-f]{32} [rn]$/.test(l))
    .map((l) => {
      const [o, p, id, r] = l.split(' ') as [string, string, string, string];
      return { offset: BigInt(o), partition: Number(p), id, redelivery: r === 'r' };
    });
}

/** Resolves once the child process has exited (at once if it already has). */
export function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) =>
    c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()),
  );
}

/** What a consumer child is told (see test/support/pipeline-consumer-child.ts). */
export interface ConsumerChildOptions {
  /** Names its config and ledger files in the world's directory (default `child`: child.json, out.txt). */
  readonly name?: string;
  /** The identity it consumes as (default: the first recipient). */
  readonly identity?: string;
  /** Default `<identity>-<first data topic>`. */
  readonly group?: string;
  /** Default: the first data topic. */
  readonly topic?: string;
  /** Milliseconds it sleeps every 25 messages (default 0). */
  readonly slowMs?: number;
  readonly markAhead?: number;
  /** Leave the session options at SealedConsumer's defaults. */
  readonly defaultSession?: boolean;
}

/** A consumer child's config, written once; each spawn() starts a process on it (ledger appended). */
export interface ConsumerChild {
  readonly configPath: string;
  /** Its ledger file. */
  readonly out: string;
  spawn(): ChildProcess;
  ledger(): ChildLedgerLine[];
}

type ConsumerOptions = Parameters<typeof startConsumer>[3];

export class Scenario implements ScenarioNames {
  readonly transport: Transport;
  readonly topics: readonly string[];
  readonly t: ScenarioNames['t'];
  readonly checkpoints: string;
  readonly sender: string;
  readonly recipients: readonly string[];
  private built: PipelineWorld | undefined;
  private sendersProducer: TestProducer | undefined;
  private childFilesWritten = false;
  private readonly closers: (() => Promise<void> | void)[] = [];
  private readonly children: ChildProcess[] = [];

  constructor(private readonly options: ScenarioOptions) {
    this.transport = options.transport ?? testTransport(options.clientId ?? options.purpose);
    const specs = dataTopicSpecs(options);
    this.topics = specs.map((d) => freshTopic(d.purpose));
    this.t = pipelineTopics(options.purpose);
    this.checkpoints = freshTopic(`${options.purpose}-cp`);
    this.sender = options.sender ?? 'orders';
    this.recipients = options.recipients ?? ['billing'];
  }

  /** The first data topic. */
  get topic(): string {
    const first = this.topics[0];
    if (first === undefined) throw new Error(`scenario ${this.options.purpose} has no data topic`);
    return first;
  }

  get world(): PipelineWorld {
    if (this.built === undefined) throw new Error('the scenario is not started (beforeAll)');
    return this.built;
  }

  /** The sender's producer started with the scenario (`producer` option). */
  get orders(): TestProducer {
    if (this.sendersProducer === undefined)
      throw new Error('the scenario started no producer (option `producer`)');
    return this.sendersProducer;
  }

  /** Builds the world and creates the topics (and the sender's producer, if asked for). */
  async start(): Promise<this> {
    const o = this.options;
    const defaults: ServiceSpec[] = [
      { name: this.sender, send: [...this.topics], receive: [] },
      ...this.recipients.map((name) => ({ name, send: [], receive: [...this.topics] })),
    ];
    this.built = await makePipelineWorld(o.services?.(this, defaults) ?? defaults);
    const specs: TopicSpec[] = dataTopicSpecs(o).map((d, i) => ({
      topic: this.topics[i]!,
      ...(d.partitions === undefined ? {} : { numPartitions: d.partitions }),
      ...(d.compacted === true ? { compacted: true } : {}),
    }));
    if (o.metadataTopic !== undefined && o.metadataTopic !== false)
      specs.push(
        o.metadataTopic === true
          ? { topic: this.t.metadata }
          : { topic: this.t.metadata, numPartitions: o.metadataTopic },
      );
    if (o.pipelineTopics !== false)
      specs.push({ topic: this.t.dlq }, { topic: this.t.state, compacted: true });
    if (o.checkpointTopic !== undefined && o.checkpointTopic !== false)
      specs.push(
        o.checkpointTopic === 'retained'
          ? { topic: this.checkpoints, configs: { 'retention.ms': '-1' } }
          : { topic: this.checkpoints },
      );
    if (specs.length > 0) await createTopics(this.transport, specs);
    if (o.producer !== undefined && o.producer !== false)
      this.sendersProducer = await this.producer(
        this.sender,
        o.producer === true ? {} : o.producer,
      );
    return this;
  }

  /**
   * Starts a sealed producer for `name` (default: the sender) with the Order schema on every data
   * topic (unless `extra.valueSchemas` says otherwise); closed by teardown().
   */
  async producer(
    name: string = this.sender,
    extra: Partial<SealedProducerOptions> = {},
  ): Promise<TestProducer> {
    const p = await startProducer(this.world, this.transport, name, {
      valueSchemas: Object.fromEntries(this.topics.map((x) => [x, ORDER_SCHEMA])),
      ...extra,
    });
    this.closers.push(() => p.producer.close());
    return p;
  }

  /**
   * Starts a sealed consumer for `name` on the data topics with the scenario's dead-letter and state
   * topics (each overridable; group default `<name>-<first data topic>`); closed by teardown().
   */
  async consumer(name: string, options: Partial<ConsumerOptions> = {}): Promise<TestConsumer> {
    const c = await startConsumer(this.world, this.transport, name, {
      stateTopic: this.t.state,
      deadLetterTopic: this.t.dlq,
      ...options,
      groupId: options.groupId ?? `${name}-${this.topic}`,
      topics: options.topics ?? [...this.topics],
    });
    this.closers.push(() => c.consumer.close());
    return c;
  }

  /**
   * A metadata-event emitter for `actor` on the metadata topic, with a sealed producer of its own
   * (no value schemas, no events); both closed by teardown() (the emitter first).
   */
  async emitter(
    actor: string,
    options: Omit<Partial<MetadataEventEmitterOptions>, 'producer' | 'actor'> = {},
  ): Promise<MetadataEventEmitter> {
    const p = await startProducer(this.world, this.transport, actor);
    const emitter = new MetadataEventEmitter({
      producer: p.producer,
      topic: this.t.metadata,
      crypto: this.world.crypto,
      clock: systemClock,
      actor,
      ...options,
    });
    this.closers.push(async () => {
      await emitter.close();
      await p.producer.close();
    });
    return emitter;
  }

  /** The signing public keys the current directory lists for `identity` (a dead-letter worker's view). */
  readonly signingKeysOf = (identity: string): Uint8Array[] =>
    this.world
      .document()
      .records.filter((r) => r.identity === identity)
      .map((r) => new Uint8Array(Buffer.from(r.sign.publicKey, 'base64')));

  /** Runs `close` at teardown (before what was registered earlier; the world is cleaned up last). */
  defer(close: () => Promise<void> | void): void {
    this.closers.push(close);
  }

  /**
   * Writes a consumer child's config (and, the first time, the identity files of the recipients and
   * the current directory document into the world's directory, where the child reads them).
   */
  async consumerChild(options: ConsumerChildOptions = {}): Promise<ConsumerChild> {
    const world = this.world;
    if (!this.childFilesWritten) {
      for (const name of this.recipients)
        await writeIdentityFile(join(world.dir, `${name}.identity.json`), world.files.get(name)!, {
          overwrite: true,
        });
      await writeDirectoryDocument(join(world.dir, 'directory.json'), world.document());
      this.childFilesWritten = true;
    }
    const name = options.name ?? 'child';
    const identity = options.identity ?? this.recipients[0]!;
    const topic = options.topic ?? this.topic;
    const out = join(world.dir, name === 'child' ? 'out.txt' : `${name}.txt`);
    const configPath = join(world.dir, `${name}.json`);
    await writeFile(
      configPath,
      JSON.stringify({
        dir: world.dir,
        identity,
        authorityPublicKey: world.document().authority.publicKey,
        group: options.group ?? `${identity}-${topic}`,
        topic,
        stateTopic: this.t.state,
        deadLetterTopic: this.t.dlq,
        out,
        slowMs: options.slowMs ?? 0,
        ...(options.markAhead === undefined ? {} : { markAhead: options.markAhead }),
        ...(options.defaultSession === true ? { defaultSession: true } : {}),
      }),
    );
    return {
      configPath,
      out,
      spawn: () => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', join('test', 'support', 'pipeline-consumer-child.ts'), configPath],
          { stdio: ['ignore', 'ignore', 'inherit'], env: process.env },
        );
        this.children.push(child);
        return child;
      },
      ledger: () => readChildLedger(out),
    };
  }

  /**
   * Kills the children still running, runs the registered closers (last registered first; every one
   * runs, the first failure is thrown at the end), then cleans up the world.
   */
  async teardown(): Promise<void> {
    for (const c of this.children)
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const failures: unknown[] = [];
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (e) {
        failures.push(e);
      }
    }
    await this.built?.cleanup();
    if (failures.length > 0) throw failures[0];
  }
}

function dataTopicSpecs(o: ScenarioOptions): DataTopicSpec[] {
  const given = o.topics ?? 1;
  const list: (string | DataTopicSpec)[] =
    typeof given === 'number'
      ? Array.from({ length: given }, (_, i) => (i === 0 ? o.purpose : `${o.purpose}-${i}`))
      : [...given];
  return list.map((d) => {
    const spec = typeof d === 'string' ? { purpose: d } : d;
    const partitions = spec.partitions ?? o.partitions;
    const compacted = spec.compacted ?? o.compacted;
    return {
      purpose: spec.purpose,
      ...(partitions === undefined ? {} : { partitions }),
      ...(compacted === undefined ? {} : { compacted }),
    };
  });
}

/** Builds a scenario now (inside a test); the caller runs `teardown()`. */
export async function scenario(options: ScenarioOptions): Promise<Scenario> {
  return new Scenario(options).start();
}

/**
 * A scenario for a whole test file: names at once, built in beforeAll, torn down in afterAll (after
 * the file's own afterAll hooks registered later: vitest runs after-hooks last registered first).
 */
export function useScenario(options: ScenarioOptions): Scenario {
  const s = new Scenario(options);
  beforeAll(async () => {
    await s.start();
  });
  afterAll(async () => {
    await s.teardown();
  });
  return s;
}
