/**
 * The harness of a chaos scenario: a world (identities, directory, local KMS keyring) written to a
 * run folder, a topic with 3 partitions on the 3-broker cluster (replication 3, min.insync.replicas 2
 * from the cluster's defaults), a producer process and one consumer process per recipient group, all
 * recording to ledgers; at the end it stops production, waits until every group has handed out every
 * acknowledged id (bounded), closes the consumers, records their committed offsets and the dead
 * letters, and checks the ledger.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeDeadLetterMetadata, DEAD_LETTER_HEADER } from '../../src/events/dead-letter.js';
import { writeDirectoryDocument } from '../../src/keys/directory/directory-document.js';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import type { Transport } from '../../src/kafka/transport.js';
import { getEndpoints } from '../support/endpoints.js';
import { readRaw } from '../support/pipeline-parties.js';
import { makePipelineWorld, type PipelineWorld } from '../support/pipeline-world.js';
import { freshTopic, testTransportOn } from '../support/test-transport.js';
import type { BrokerFaultProxies } from '../support/fault-proxy.js';
import { checkLedger, type Verdict } from './checker.js';
import {
  LedgerWriter,
  readLedgers,
  type AckEntry,
  type CopyEntry,
  type LedgerEntry,
} from './ledger.js';
import type { ChildConfig } from './parties.js';

export const GROUPS = ['billing', 'shipping'] as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Harness {
  readonly runDir: string;
  readonly topic: string;
  /** The recipient groups' dead-letter topic. */
  readonly deadLetterTopic: string;
  /** Group name (e.g. 'billing') → its consumer group id in this run. */
  groupId(group: string): string;
  /** Per group: configuration a scenario adds to every consumer of that group it starts. */
  readonly consumerConfig: Map<string, Partial<ChildConfig>>;
  /** Lines the children wrote starting with ALERT (the consumers' onAlert). */
  readonly alerts: string[];
  /** A scenario's own checks beyond the ledger's (each printed; one false fails the run). */
  readonly checks: { ok: boolean; what: string }[];
  check(ok: boolean, what: string): void;
  /** Run at cleanup (a scenario's proxies, servers). */
  readonly cleanups: (() => Promise<void>)[];
  readonly transport: Transport;
  /** The running producer process (undefined after it was stopped or killed). */
  producer: ChildProcess | undefined;
  /** The fault proxies on the consumers' path, when the scenario uses them. */
  proxies: BrokerFaultProxies | undefined;
  /** Group → its running consumer process (the newest one started for the group). */
  readonly consumers: Map<string, ChildProcess>;
  /** Every consumer process started (several members of one group included); finish closes all. */
  readonly allConsumers: ChildProcess[];
  log(line: string): void;
  startProducer(): Promise<ChildProcess>;
  startConsumer(group: string): Promise<ChildProcess>;
  /** Acks recorded so far. */
  ackCount(): number;
  /** Waits until the producer has recorded `n` more acks than now (bounded). */
  waitMoreAcks(n: number, timeoutMs?: number): Promise<void>;
  /** Time of the first ack of a send begun after `t` (ms since epoch), waiting for it (bounded). */
  firstAckAfter(t: number, timeoutMs?: number): Promise<number | undefined>;
  /** Per group: time of the first hand-out of a message whose send began after `t` (bounded wait). */
  firstHandoutsAfter(t: number, timeoutMs?: number): Promise<Record<string, number | undefined>>;
  /** Stops production, drains, closes consumers, records commits and dead letters, checks. */
  finish(drainTimeoutMs?: number): Promise<Verdict>;
  cleanup(): Promise<void>;
}

function spawnChild(
  script: string,
  configPath: string,
  log: (l: string) => void,
  alerts?: string[],
): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join('test', 'chaos', script), configPath],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    },
  );
  child.stderr.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (line.trim() === '') continue;
      if (line.startsWith('ALERT ')) alerts?.push(line);
      log(`[${script}] ${line}`);
    }
  });
  return child;
}

async function waitRunning(child: ChildProcess, what: string, timeoutMs = 120_000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start in ${timeoutMs} ms`)),
      timeoutMs,
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('RUNNING\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited while starting (${code ?? signal})`));
    });
  });
}

export function exited(c: ChildProcess): Promise<void> {
  return new Promise((r) =>
    c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()),
  );
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopChild(c: ChildProcess, graceMs = 60_000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await exited(c);
  clearTimeout(timer);
}

function producerEntries(runDir: string): LedgerEntry[] {
  const file = join(runDir, 'ledgers', 'producer.ledger');
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop();
  return lines.filter((l) => l !== '').map((l) => JSON.parse(l) as LedgerEntry);
}

export async function makeHarness(
  scenario: string,
  root: string,
  options: {
    echo?: boolean;
    /** Bootstrap brokers of the consumers (e.g. the fault proxies'); default the cluster's. */
    consumerBrokers?: readonly string[];
    /** Partitions of the scenario's topic; default 3. */
    partitions?: number;
  } = {},
): Promise<Harness> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = join(root, `${scenario}-${stamp}`);
  const ledgerDir = join(runDir, 'ledgers');
  mkdirSync(ledgerDir, { recursive: true });
  const logLines: string[] = [];
  const log = (line: string): void => {
    const l = `${new Date().toISOString().slice(11, 23)} ${line}`;
    logLines.push(l);
    if (options.echo !== false) process.stderr.write(`${l}\n`);
  };
  const endpoints = getEndpoints();
  const topic = freshTopic(`chaos-${scenario}`);
  const partitions = options.partitions ?? 3;
  const suffix = topic.slice(topic.lastIndexOf('-') + 1);
  const dlq = `chaos-dlq-${suffix}`;
  const stateTopic = (g: string): string => `chaos-state-${g}-${suffix}`;
  const world: PipelineWorld = await makePipelineWorld(
    [
      { name: 'orders', send: [topic], receive: [] },
      ...GROUPS.map((g) => ({ name: g, send: [], receive: [topic] })),
    ],
    { dir: runDir },
  );
  for (const name of ['orders', ...GROUPS]) {
    await writeIdentityFile(join(runDir, `${name}.identity.json`), world.files.get(name)!, {
      overwrite: true,
    });
  }
  await writeDirectoryDocument(join(runDir, 'directory.json'), world.document());
  const transport = testTransportOn({ brokers: endpoints.kafkaBrokers, clientId: 'chaos-runner' });
  // A cluster that just recovered may still answer a metadata error once: a few bounded attempts.
  for (let attempt = 1; ; attempt++) {
    const admin = transport.admin();
    try {
      await admin.connect();
      await admin.createTopics([
        { topic, numPartitions: partitions },
        { topic: dlq },
        ...GROUPS.map((g) => ({ topic: stateTopic(g), compacted: true })),
      ]);
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
      log(`creating topics failed (${(err as Error).message}); attempt ${attempt + 1}`);
      await sleep(1000 * attempt);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
  log(`run folder ${runDir}; topic ${topic} (${partitions} partitions)`);

  const base = {
    dir: runDir,
    authorityPublicKey: world.document().authority.publicKey,
    topic,
    brokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
  };
  let producers = 0;
  const members = new Map<string, number>();
  const h: Harness = {
    runDir,
    topic,
    deadLetterTopic: dlq,
    groupId: (g) => `${g}-${suffix}`,
    consumerConfig: new Map(),
    alerts: [],
    checks: [],
    check(ok, what) {
      h.checks.push({ ok, what });
      log(`check ${ok ? 'OK' : 'FAILED'}: ${what}`);
    },
    cleanups: [],
    transport,
    producer: undefined,
    proxies: undefined,
    consumers: new Map(),
    allConsumers: [],
    log,
    async startProducer() {
      producers++;
      const config: ChildConfig = {
        ...base,
        identity: 'orders',
        ledger: join(ledgerDir, 'producer.ledger'),
        batch: 20,
        intervalMs: 50,
        runId: `p${producers}`,
      };
      const path = join(runDir, `producer-${producers}.json`);
      await writeFile(path, JSON.stringify(config));
      const child = spawnChild('producer-child.ts', path, log);
      await waitRunning(child, 'the producer');
      h.producer = child;
      log(`producer p${producers} running (pid ${child.pid})`);
      return child;
    },
    async startConsumer(group) {
      const n = (members.get(group) ?? 0) + 1;
      members.set(group, n);
      const member = `${group}-${n}`;
      const config: ChildConfig = {
        ...base,
        ...(options.consumerBrokers === undefined ? {} : { brokers: options.consumerBrokers }),
        identity: group,
        group: `${group}-${suffix}`,
        member,
        stateTopic: stateTopic(group),
        deadLetterTopic: dlq,
        ledger: join(ledgerDir, `${member}.ledger`),
        ...h.consumerConfig.get(group),
      };
      const path = join(runDir, `${member}.json`);
      await writeFile(path, JSON.stringify(config));
      const child = spawnChild('consumer-child.ts', path, log, h.alerts);
      await waitRunning(child, `consumer ${member}`);
      h.consumers.set(group, child);
      h.allConsumers.push(child);
      log(`consumer ${member} running (pid ${child.pid})`);
      return child;
    },
    ackCount: () => readLedgers(ledgerDir).acks.length,
    async waitMoreAcks(n, timeoutMs = 120_000) {
      const target = h.ackCount() + n;
      const deadline = Date.now() + timeoutMs;
      while (h.ackCount() < target) {
        if (Date.now() > deadline) throw new Error(`fewer than ${n} new acks in ${timeoutMs} ms`);
        await sleep(250);
      }
    },
    async firstAckAfter(t, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let begun = false;
        for (const e of producerEntries(runDir)) {
          if (e.k === 'try' && e.t >= t) begun = true;
          if (begun && e.k === 'ack') return e.t;
        }
        if (Date.now() > deadline) return undefined;
        await sleep(250);
      }
    },
    async firstHandoutsAfter(t, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      const out: Record<string, number | undefined> = {};
      for (;;) {
        const l = readLedgers(ledgerDir);
        // Payloads of sends begun after t: their hand-out needed the cluster's recovery (an ack
        // recorded after t may belong to a send begun before, partly handed out already).
        const late = new Set(l.tries.filter((x) => x.t >= t).flatMap((x) => x.n));
        for (const g of GROUPS) {
          const first = l.handouts
            .filter((x) => x.g === `${g}-${suffix}` && late.has(x.n))
            .reduce<number | undefined>(
              (m, x) => (m === undefined || x.t < m ? x.t : m),
              undefined,
            );
          out[g] = first;
        }
        if (GROUPS.every((g) => out[g] !== undefined) || Date.now() > deadline) return out;
        await sleep(250);
      }
    },
    async finish(drainTimeoutMs = 240_000) {
      if (h.producer !== undefined) {
        await stopChild(h.producer);
        log('producer stopped');
      }
      const deadline = Date.now() + drainTimeoutMs;
      for (;;) {
        const l = readLedgers(ledgerDir);
        const acked = new Set(l.acks.map((a) => a.id));
        const missing = GROUPS.map((g) => {
          const got = new Set(l.handouts.filter((x) => x.g === `${g}-${suffix}`).map((x) => x.id));
          return [...acked].filter((id) => !got.has(id)).length;
        });
        if (missing.every((m) => m === 0)) {
          log(`drained: every group has every acknowledged id (${acked.size})`);
          break;
        }
        if (Date.now() > deadline) {
          log(
            `drain bounded at ${drainTimeoutMs} ms: still missing per group ${missing.join(', ')}`,
          );
          break;
        }
        await sleep(1000);
      }
      await Promise.all(h.allConsumers.map((c) => stopChild(c)));
      log('consumers closed');
      const runner = new LedgerWriter(join(ledgerDir, 'runner.ledger'));
      const a = transport.admin();
      await a.connect();
      try {
        for (const g of GROUPS) {
          for (const c of await a.fetchCommittedOffsets(`${g}-${suffix}`, [topic])) {
            if (c.offset !== '-1')
              runner.append({
                k: 'commit',
                g: `${g}-${suffix}`,
                p: c.partition,
                o: c.offset,
                t: Date.now(),
              });
          }
        }
        runner.append(...(await copiesOnTopic(transport, topic, readLedgers(ledgerDir).acks)));
        const dlqCount = (await a.fetchTopicOffsets(dlq)).reduce((n, p) => n + Number(p.high), 0);
        if (dlqCount > 0) {
          for (const r of await readRaw(transport, dlq, dlqCount)) {
            const header = r.headers.filter((x) => x.key === DEAD_LETTER_HEADER).pop();
            const meta = header?.value ? decodeDeadLetterMetadata(header.value) : null;
            if (meta !== null && meta.topic === topic)
              runner.append({
                k: 'dead',
                g: meta.group,
                p: meta.partition,
                o: meta.offset,
                c: meta.class,
                t: Date.now(),
              });
          }
        }
      } finally {
        await a.disconnect();
        runner.close();
      }
      await writeFile(join(runDir, 'runner.log'), `${logLines.join('\n')}\n`);
      return checkLedger(
        readLedgers(ledgerDir),
        GROUPS.map((g) => `${g}-${suffix}`),
      );
    },
    async cleanup() {
      await h.proxies?.stop();
      for (const c of h.cleanups) await c().catch(() => undefined);
      if (h.producer !== undefined && h.producer.exitCode === null) h.producer.kill('SIGKILL');
      for (const c of h.allConsumers) if (c.exitCode === null) c.kill('SIGKILL');
      await world.cleanup();
    },
  };
  return h;
}

/**
 * The records of `topic` at offsets no ack names whose value bytes are those of an acknowledged
 * record: copies that earlier attempts of the same send wrote (checker.ts, `commit-beyond`). Reads the
 * whole topic once; compares SHA-256 digests of the sealed values (no plaintext is involved).
 */
async function copiesOnTopic(
  transport: Transport,
  topic: string,
  acks: readonly AckEntry[],
): Promise<CopyEntry[]> {
  const admin = transport.admin();
  await admin.connect();
  let total = 0;
  try {
    total = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
  if (total === 0) return [];
  const records = await readRaw(transport, topic, total);
  const digest = (v: Buffer | null): string =>
    v === null ? 'null' : createHash('sha256').update(v).digest('hex');
  const at = (p: number, o: string): string => `${p}/${o}`;
  const ackedAt = new Map(acks.map((a) => [at(a.p, a.o), a.id]));
  const idOfBytes = new Map<string, string>();
  for (const r of records) {
    const id = ackedAt.get(at(r.partition, r.offset));
    if (id !== undefined) idOfBytes.set(digest(r.value), id);
  }
  const out: CopyEntry[] = [];
  for (const r of records) {
    if (ackedAt.has(at(r.partition, r.offset))) continue;
    const id = idOfBytes.get(digest(r.value));
    if (id !== undefined) out.push({ k: 'copy', id, p: r.partition, o: r.offset, t: Date.now() });
  }
  return out;
}
